"""The project's pools are created at set-up, at the dagster.yaml default, and repaired if a
first-use race ever left extra slots."""

from mkailin_assets.automation.pools import declared_pools, initialize_pools


def test_every_writing_asset_declares_the_duckdb_pool():
    assert declared_pools() == {"duckdb"}


def test_pools_are_created_once_at_the_default_limit(project_instance):
    storage = project_instance.event_log_storage
    assert storage.get_concurrency_info("duckdb").slot_count == 0

    assert initialize_pools(project_instance) == {"duckdb": 1}
    assert initialize_pools(project_instance) == {"duckdb": 1}

    info = storage.get_concurrency_info("duckdb")
    assert (info.slot_count, info.limit, info.using_default_limit) == (1, 1, True)


def test_extra_slots_from_a_first_use_race_are_removed(project_instance):
    storage = project_instance.event_log_storage
    # The state two runs leave when both allocate the lazily created pool at the same moment.
    storage.initialize_concurrency_limit_to_default("duckdb")
    with storage.index_transaction() as conn:
        storage._allocate_concurrency_slots(conn, "duckdb", 2)
    assert storage.get_concurrency_info("duckdb").slot_count == 2

    assert initialize_pools(project_instance) == {"duckdb": 1}
