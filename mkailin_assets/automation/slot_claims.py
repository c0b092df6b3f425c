"""Pool slots that admit one holder each, also when two processes claim at the same instant.

Dagster claims a pool slot (`SqlEventLogStorage._claim_concurrency_slot`) by selecting a free
slot row `FOR UPDATE SKIP LOCKED` and then setting its holder by id. dagster-postgres runs every
statement in autocommit, so the row lock ends with the SELECT: two run processes that both pass
the pending-step queue at once (its check for a free slot and its insert are not atomic either)
can select the same free row and both set themselves as its holder. Both steps then run as the
`duckdb` pool's only holder: seen in CI with three category runs started together on PostgreSQL,
two writer steps overlapping for 1.2 s.

The claim here sets the holder only where the row has none (`step_key IS NULL` in the UPDATE), a
single statement that PostgreSQL re-checks against a concurrent update and SQLite runs under its
write lock; the claimer that loses the row tries the next free one, or stays queued and claims on
its next try, as any claim that finds the pool full. Everything else (the queue, freeing) is
Dagster's.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as db
from dagster._core.storage.event_log.schema import ConcurrencySlotsTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._utils.concurrency import ConcurrencySlotStatus


def free_slot_ids(conn: Any, concurrency_key: str) -> list[int]:
    """The pool's slots that have no holder, oldest first."""
    rows = conn.execute(
        db.select(ConcurrencySlotsTable.c.id)
        .where(
            ConcurrencySlotsTable.c.concurrency_key == concurrency_key,
            ConcurrencySlotsTable.c.step_key.is_(None),
            ConcurrencySlotsTable.c.deleted == db.false(),
        )
        .order_by(ConcurrencySlotsTable.c.id)
        .with_for_update(skip_locked=True)
    ).fetchall()
    return [row[0] for row in rows]


def take_slot(conn: Any, slot_id: int, run_id: str, step_key: str) -> bool:
    """Make (run_id, step_key) the holder of the slot if it still has none; True if it did."""
    result = conn.execute(
        ConcurrencySlotsTable.update()
        .values(run_id=run_id, step_key=step_key)
        .where(
            ConcurrencySlotsTable.c.id == slot_id,
            ConcurrencySlotsTable.c.step_key.is_(None),
            ConcurrencySlotsTable.c.deleted == db.false(),
        )
    )
    return result.rowcount == 1


def claim_free_slot(
    storage: SqlEventLogStorage, concurrency_key: str, run_id: str, step_key: str
) -> ConcurrencySlotStatus:
    """Dagster's slot claim, with the holder set only on a slot that has none."""
    with storage.index_connection() as conn:
        for slot_id in free_slot_ids(conn, concurrency_key):
            if take_slot(conn, slot_id, run_id, step_key):
                return ConcurrencySlotStatus.CLAIMED
    return ConcurrencySlotStatus.BLOCKED


def guard_slot_claims(storage_class: type = SqlEventLogStorage) -> bool:
    """Replace the class's slot claim with `claim_free_slot`; True if it was replaced now.

    Called when the definitions load, so every process that runs a step (a run process, the
    demo, a test) claims this way; the storages of SQLite and PostgreSQL both inherit it."""
    if getattr(storage_class._claim_concurrency_slot, "guarded", False):
        return False

    def _claim_concurrency_slot(
        self: SqlEventLogStorage, concurrency_key: str, run_id: str, step_key: str
    ) -> ConcurrencySlotStatus:
        return claim_free_slot(self, concurrency_key, run_id, step_key)

    _claim_concurrency_slot.guarded = True  # type: ignore[attr-defined]
    storage_class._claim_concurrency_slot = _claim_concurrency_slot
    return True
