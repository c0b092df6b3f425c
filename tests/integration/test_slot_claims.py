"""A pool slot has one holder at a time, also when claims race (automation/slot_claims.py).

Dagster's own claim selects a free slot row and then sets its holder by id; on PostgreSQL, in
autocommit, two claimers can select the same row and both become its holder (seen in CI: two
category runs' raw_abstracts steps held the `duckdb` pool, limit 1, together). The guarded claim
sets the holder only on a row that still has none.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mkailin_assets.automation.pools import initialize_pools
from mkailin_assets.automation.slot_claims import free_slot_ids, guard_slot_claims, take_slot
from mkailin_assets.resources.writer import WRITER_POOL
from mkailin_assets.settings import REPO_ROOT

DEPLOY_YAML = REPO_ROOT / "deploy" / "dagster-postgres.yaml"
CLAIMERS = 6
CLAIMS_EACH = 25


@pytest.fixture(params=["sqlite", "postgres"])
def instance_home(request, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """A DAGSTER_HOME with the project's instance: dagster.yaml (SQLite) or the deploy yaml
    against a PostgreSQL server the tests start."""
    home = tmp_path / "home"
    home.mkdir()
    if request.param == "sqlite":
        shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    else:
        request.getfixturevalue("postgres_env")
        shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert initialize_pools(instance) == {WRITER_POOL: 1}
    yield home


def test_the_claimer_that_loses_the_row_does_not_hold_it(instance_home):
    """Both claimers found the slot free; only the first to set itself holds it."""
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        with storage.index_connection() as conn:
            seen_by_a = free_slot_ids(conn, WRITER_POOL)
            seen_by_b = free_slot_ids(conn, WRITER_POOL)
            assert seen_by_a == seen_by_b and len(seen_by_a) == 1
            assert take_slot(conn, seen_by_a[0], "run-a", "raw_abstracts")
            assert not take_slot(conn, seen_by_b[0], "run-b", "raw_abstracts")
        holders = storage.get_concurrency_info(WRITER_POOL).claimed_slots
        assert [(slot.run_id, slot.step_key) for slot in holders] == [("run-a", "raw_abstracts")]


def _claim_and_release(run_id: str, holding: list[str], peak: list[int], errors):
    """Claim the pool's slot CLAIMS_EACH times, as a step does, each time holding it briefly."""
    try:
        # An instance of its own (DAGSTER_HOME): its own connections, as a run process has.
        with dg.DagsterInstance.get() as instance:
            storage = instance.event_log_storage
            for claim in range(CLAIMS_EACH):
                step = f"raw_abstracts:{claim}"
                while True:
                    status = storage.claim_concurrency_slot(WRITER_POOL, run_id, step)
                    if status.is_claimed:
                        break
                    if not status.is_assigned and storage.has_unassigned_slots(WRITER_POOL):
                        storage.assign_pending_steps([WRITER_POOL])
                    time.sleep(0.002)
                holding.append(run_id)
                peak[0] = max(peak[0], len(holding))
                time.sleep(0.001)
                holding.remove(run_id)
                storage.free_concurrency_slot_for_step(run_id, step)
    except Exception as error:  # the test fails naming it
        errors.append(error)


@pytest.mark.timeout(300)
def test_claims_racing_from_many_instances_never_hold_the_slot_together(instance_home):
    guard_slot_claims()
    holding: list[str] = []
    peak, errors = [0], []
    claimers = [
        threading.Thread(target=_claim_and_release, args=(f"run-{n}", holding, peak, errors))
        for n in range(CLAIMERS)
    ]
    for claimer in claimers:
        claimer.start()
    for claimer in claimers:
        claimer.join(timeout=240)
    assert not errors, errors
    assert not any(claimer.is_alive() for claimer in claimers)
    assert peak[0] == 1, f"{peak[0]} claimers held the pool's one slot at once"
    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.get_concurrency_info(WRITER_POOL).claimed_slots == []
