"""The instance's concurrency pools, created once before any run starts.

Dagster creates a pool lazily, when the first step claims it. Two runs whose first steps start
at the same moment can both see "no slots yet" and each allocate one, leaving the `duckdb` pool
with two slots and letting two writers in. Creating every pool the assets declare when the
instance is set up (scripts/ do it; so must anything that launches runs) closes that race.
"""

import dagster as dg

from mkailin_assets.assets.catalog import ASSETS


def declared_pools() -> set[str]:
    return {asset.op.pool for asset in ASSETS if asset.op.pool}


def initialize_pools(instance: dg.DagsterInstance) -> dict[str, int | None]:
    """Create each declared pool at the instance's default limit (idempotent); return the limits.

    The pools stay marked as using the default, so a changed `default_limit` in dagster.yaml
    still applies on the next claim."""
    storage = instance.event_log_storage
    for pool in sorted(declared_pools()):
        storage.initialize_concurrency_limit_to_default(pool)
    return {pool: storage.get_concurrency_info(pool).slot_count for pool in declared_pools()}


def main() -> None:
    with dg.DagsterInstance.get() as instance:
        limits = initialize_pools(instance)
    print("==> pools: " + ", ".join(f"{pool}={limit}" for pool, limit in sorted(limits.items())))


if __name__ == "__main__":
    main()
