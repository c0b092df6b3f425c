"""The Dagster resource for the project's DuckDB file: a thin wrapper over `mkailin_assets.db`.

We do not use dagster-duckdb's IO managers: they replace a partition with DELETE then INSERT
outside a transaction, and their Polars path calls an API DuckDB 2.0 removed. Assets open a
connection here and write through the functions of `mkailin_assets.db`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from pydantic import Field

from mkailin_assets import preflight, settings
from mkailin_assets.db import apply_schema, open_connection, publish_snapshot


class DuckDBStore(dg.ConfigurableResource):
    """The project's DuckDB file. Writers run in the `duckdb` concurrency pool; readers open read-only."""

    path: str = settings.setting_field("duckdb_path")
    lock_timeout_s: float = Field(
        default=120.0, description="How long to wait for another process's lock"
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Every run checks the settings before its first step (preflight.py): a plain message
        # naming the variable, not a failure a minute into the work.
        if context.dagster_run is not None:
            preflight.check_for_run()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = open_connection(self.path, read_only=read_only, lock_timeout_s=self.lock_timeout_s)
        try:
            if not read_only:
                apply_schema(con)
            yield con
        finally:
            con.close()
        if not read_only:
            # Readers query the snapshot while the next run writes (db/snapshot.py).
            publish_snapshot(self.path)
