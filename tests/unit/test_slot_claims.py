"""The guarded slot claim is what every storage of the instance uses once the definitions load."""

from __future__ import annotations

from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from mkailin_assets.automation import slot_claims


def test_the_guard_replaces_the_claim_once():
    class StandInStorage:
        def _claim_concurrency_slot(self, concurrency_key, run_id, step_key):
            return "unguarded"

    assert slot_claims.guard_slot_claims(StandInStorage)
    assert not slot_claims.guard_slot_claims(StandInStorage)  # a second load changes nothing
    claims = []
    original = slot_claims.claim_free_slot
    slot_claims.claim_free_slot = lambda *args: claims.append(args) or "guarded"
    try:
        storage = StandInStorage()
        assert storage._claim_concurrency_slot("duckdb", "run-1", "step") == "guarded"
    finally:
        slot_claims.claim_free_slot = original
    assert claims == [(storage, "duckdb", "run-1", "step")]


def test_loading_the_definitions_guards_dagsters_sql_storages():
    import mkailin_assets.definitions  # noqa: F401  (loading it applies the guard)

    assert getattr(SqlEventLogStorage._claim_concurrency_slot, "guarded", False)
