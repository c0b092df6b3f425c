"""The DuckDB writer, taken by an LLM stage only around its short read and write phases.

DuckDB has one writer per file, and the `duckdb` concurrency pool (one slot) orders the writers.
A step declared with `pool="duckdb"` holds that slot for its whole run; an LLM stage would then
hold the file while it waits on the model server, and runs of other categories could not send
their calls at the same time. So the LLM stages declare no pool: they claim the pool's slot
through the instance for each phase that opens the file (read, write), and let it go while their
calls are in flight. The slot is the same one the UI shows under the pool (who holds it, which
steps wait), and runs waiting for it say so in their logs, naming the holder.

Where the instance enforces no pools (an in-memory instance, `dg.materialize`), DuckDB's own
file lock is the only order, as before.

Handing the slot on: Dagster gives a freed slot to the queue's head, which learns it only when it
next asks. Asking every 0.25 s left the writer idle for 0.125 s on average at every hand-over,
and eight runs hand it over about fifty times; asking more often costs a write to the instance
per ask. So a gate that frees the slot rings a bell, a file beside the DuckDB file (every writer
runs on the machine that holds that file), naming the step Dagster assigned the slot to; waiting
gates watch the bell (a stat every 10 ms, no instance query) and the one named asks at once
(all of them when the ring names no one). They still ask every 0.25 s, for slots freed by steps
that hold the whole pool (they ring no bell).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb

from mkailin_assets.collector import freeze_start_up

WRITER_POOL = "duckdb"
_POLL_S = 0.25
_BELL_CHECK_S = 0.01
_BELL_MAX_BYTES = 65536
_REPORT_EVERY_S = 10.0


@dataclass
class WriterGate:
    """One step's access to the writer: claims the pool slot per phase, times each phase."""

    store: Any  # DuckDBStore (resources/duckdb_store.py); typed loosely to keep imports down
    context: Any | None = None  # the step's AssetExecutionContext, None outside Dagster
    # Called each time a phase lets the writer go: work that would otherwise wait for the
    # phase after the model calls starts while they are in flight (e.g. importing GX).
    after_release: Callable[[], Any] | None = None
    # Called before each phase asks for the writer (e.g. to let that work finish first).
    before_claim: Callable[[], Any] | None = None
    held_s: float = 0.0
    waited_s: float = 0.0
    phases: list[dict[str, Any]] = field(default_factory=list)

    @contextmanager
    def hold(self, phase: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """The file, opened for writing, for one phase; the pool slot is held around it."""
        if self.before_claim is not None:
            self.before_claim()
        asked = time.monotonic()
        claimed = self._claim(phase)
        opened = time.monotonic()
        try:
            with self.store.connect() as con:
                yield con
        finally:
            if claimed:
                self._free(phase)
            done = time.monotonic()
            self.waited_s += opened - asked
            self.held_s += done - opened
            self.phases.append(
                {
                    "phase": phase,
                    "waited_s": round(opened - asked, 3),
                    "held_s": round(done - opened, 3),
                }
            )
            if self.after_release is not None:
                self.after_release()

    def metadata(self, step_s: float) -> dict[str, Any]:
        return {
            "writer.held_s": round(self.held_s, 3),
            "writer.waited_s": round(self.waited_s, 3),
            "writer.held_share": round(self.held_s / step_s, 4) if step_s > 0 else 0.0,
            "writer.phases": ", ".join(
                f"{p['phase']} {p['held_s']:.2f}s (waited {p['waited_s']:.2f}s)"
                for p in self.phases
            ),
        }

    # ---- the pool slot, through the instance ------------------------------------------------
    def _storage(self) -> Any | None:
        """The instance's storage when it enforces a limit on the pool, as Dagster's own step
        claims decide it: an instance without pools, a pool with no limit (and no default), or
        run granularity leave the order to DuckDB's file lock."""
        if self.context is None:
            return None
        from mkailin_assets.automation.slot_claims import guard_slot_claims

        guard_slot_claims()  # done by the definitions already; here for steps built without them
        storage = self.context.instance.event_log_storage
        if not storage.supports_global_concurrency_limits:
            return None
        config = storage.get_pool_config()
        if str(getattr(config.pool_granularity, "value", config.pool_granularity)) == "run":
            return None
        limited = _pool_limited(storage)
        if not limited and config.default_pool_limit is not None:
            storage.initialize_concurrency_limit_to_default(WRITER_POOL)
            limited = _pool_limited(storage)  # asked again only after creating the pool
        return storage if limited else None

    def _step(self, phase: str) -> str:
        step = self.context.get_step_execution_context().step.key
        return f"{step}:{phase}"

    def _claim(self, phase: str) -> bool:
        storage = self._storage()
        if storage is None:
            return False
        run_id, step = self.context.run_id, self._step(phase)
        started = last_report = time.monotonic()
        while True:
            rung = bell_rung_at(self._bell)  # before asking: a ring after it is not missed
            status = storage.claim_concurrency_slot(WRITER_POOL, run_id, step)
            if status.is_claimed:
                return True
            if not status.is_assigned and storage.has_unassigned_slots(WRITER_POOL):
                # Dagster queues a claim that finds no free slot and hands queued claims a slot
                # only when one is freed: a slot freed between that check and the queueing is
                # never handed on, and every claim waits for ever. Hand it on (to the queue's
                # head; the slot rows still admit one holder at a time: automation/slot_claims).
                storage.assign_pending_steps([WRITER_POOL])
                continue
            now = time.monotonic()
            if now - last_report >= _REPORT_EVERY_S or now == started:
                self.context.log.info(
                    f"waiting for the DuckDB writer ({phase} phase): {self._holders(storage)}"
                )
                last_report = now
            wait_for_bell(self._bell, rung, _POLL_S, waiter=f"{run_id} {step}")

    def _holders(self, storage: Any) -> str:
        info = storage.get_concurrency_info(WRITER_POOL)
        held = [f"run {slot.run_id[:8]} step {slot.step_key}" for slot in info.claimed_slots]
        return "held by " + ", ".join(held) if held else "the pool's slot is not free yet"

    def _free(self, phase: str) -> None:  # only after a claim, so the pool is limited
        storage = self.context.instance.event_log_storage
        storage.free_concurrency_slot_for_step(self.context.run_id, self._step(phase))
        ring_bell(self._bell, next_holder(storage))

    @property
    def _bell(self) -> str:
        return writer_bell_path(self.store.path)


def writer_bell_path(database_path: str) -> str:
    """The bell freed slots ring: a file beside the DuckDB file."""
    return f"{database_path}.writer-bell"


def next_holder(storage: Any) -> str:
    """The step Dagster assigned the freed slot to ("run_id step_key"), "" when none is: the
    bell names it, so only that waiter asks at once. Every waiter asking at each ring cost a
    write to the instance per waiter, one after another on SQLite's single writer, while the
    DuckDB writer sat idle."""
    try:
        info = storage.get_concurrency_info(WRITER_POOL)
    except Exception:  # the ring still wakes every waiter
        return ""
    holding = {(slot.run_id, slot.step_key) for slot in info.claimed_slots}
    for pending in info.pending_steps:
        if (
            pending.assigned_timestamp is not None
            and (pending.run_id, pending.step_key) not in holding
        ):
            return f"{pending.run_id} {pending.step_key}"
    return ""


def ring_bell(bell: str, named: str = "") -> None:
    """One line more, naming the next holder or empty (the size always moves; a time stamp may
    not within one clock tick); the file starts again from empty now and then."""
    try:
        size = bell_rung_at(bell)[0]
        with open(bell, "w" if size >= _BELL_MAX_BYTES else "a") as file:
            file.write(named.replace("\n", " ") + "\n")
    except OSError:
        pass  # waiting gates fall back to asking every _POLL_S


def bell_rung_at(bell: str) -> tuple[int, int]:
    try:
        stat = os.stat(bell)
        return stat.st_size, stat.st_mtime_ns
    except OSError:
        return 0, 0


def bell_names(bell: str) -> str:
    """Whom the last ring named ("" for everyone)."""
    try:
        with open(bell, "rb") as file:
            file.seek(max(0, os.fstat(file.fileno()).st_size - 512))
            lines = file.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def wait_for_bell(
    bell: str, rung: tuple[int, int], timeout_s: float, waiter: str | None = None
) -> bool:
    """Sleep until the bell rings for `waiter` (a ring naming it or no one; a ring naming
    another waiter is not for it) or `timeout_s` ends; True when it rang for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = bell_rung_at(bell)
        if now != rung:
            named = bell_names(bell)
            if waiter is None or named in ("", waiter):
                return True
            rung = now  # another waiter's turn: wait for the next ring
        time.sleep(_BELL_CHECK_S)
    return False


def import_before_holding(*modules: str) -> None:
    """Import now what a held phase would import on first use: pyarrow imports pandas the first
    time it builds an array (llm_calls rows in the write phase), and the checks read their rows
    as pandas frames; half a second or more under load, better spent with the writer free."""
    for module in modules:
        importlib.import_module(module)
    freeze_start_up()


def _pool_limited(storage: Any) -> bool:
    return any(pool.name == WRITER_POOL for pool in storage.get_pool_limits())
