"""DuckDB access: one thin resource that owns connections, the schema and atomic partition writes.

We do not use dagster-duckdb's IO managers: they replace a partition with DELETE then INSERT
outside a transaction, and their Polars path calls an API DuckDB 2.0 removed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from mkailin_assets import settings
from mkailin_assets.resources.read_snapshot import publish_snapshot

SCHEMA_DIR = settings.REPO_ROOT / "sql" / "schema"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# Extensions must never be fetched at run time: a missing one fails loudly instead.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# DuckDB's default memory limit is 80% of RAM; a writer holding a whole release file's upsert in
# one transaction would take that much before spilling. Bounded here (MKAILIN_DUCKDB_MEMORY_LIMIT),
# the excess spills to DuckDB's temp directory beside the database file.
DEFAULT_MEMORY_LIMIT = "512MB"


def _connection_config() -> dict[str, Any]:
    config: dict[str, Any] = dict(_CONFIG)
    config["memory_limit"] = settings.env("MKAILIN_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    return config


def safe_identifier(name: str) -> str:
    """Table and column names come from code, never from input; still, refuse anything odd."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


def open_connection(
    path: str | Path, read_only: bool = False, lock_timeout_s: float = 120.0
) -> duckdb.DuckDBPyConnection:
    """Open the database file, waiting (with backoff) while another process holds the lock."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=_connection_config())
        except duckdb.IOException as error:
            if not _is_lock_conflict(error) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        # A per-connection setting: the bar would print into run logs (Dagster captures stdout)
        # during statements longer than two seconds.
        con.execute("SET enable_progress_bar = false")
        return con


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.glob("*.sql"))


def apply_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every schema file once, in order, recording each version; returns the version."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, file_name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    applied = {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}
    for path in schema_files():
        version = int(path.name.split("_", 1)[0])
        if version in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(path.read_text())
            con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, path.name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    # fetchall, not fetchone: DuckDB 2.0 keeps a result open until it is drained.
    row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
    return int(row[0] or 0)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN/COMMIT, or ROLLBACK on any error: a crash leaves the previous state intact."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def replace_partition(con: duckdb.DuckDBPyConnection, table: str, category: str, frame: Any) -> int:
    """Atomically replace one category partition of `table` with the rows of a Polars/Arrow frame.

    Columns are matched by name, so the frame may list them in any order."""
    table = safe_identifier(table)
    columns = [safe_identifier(c) for c in frame.columns]
    column_list = ", ".join(columns)
    with transaction(con):
        con.execute(f"DELETE FROM {table} WHERE category = ?", [category])
        con.register("_partition_frame", frame)
        try:
            con.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM _partition_frame"
            )
        finally:
            con.unregister("_partition_frame")
    return len(frame)


class DuckDBStore(dg.ConfigurableResource):
    """The project's DuckDB file. Writers run in the `duckdb` concurrency pool; readers open read-only."""

    path: str = Field(
        default_factory=settings.duckdb_path, description="DuckDB file (MKAILIN_DUCKDB_PATH)"
    )
    lock_timeout_s: float = Field(
        default=120.0, description="How long to wait for another process's lock"
    )

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
            # Readers query the snapshot while the next run writes (resources/read_snapshot.py).
            publish_snapshot(self.path)


def _sync_from(
    con: duckdb.DuckDBPyConnection,
    table: str,
    category: str,
    source: str,
    columns: list[str],
    key: tuple[str, ...],
    ignore: tuple[str, ...],
    own_transaction: bool = True,
) -> dict[str, int]:
    table = safe_identifier(table)
    columns = [safe_identifier(c) for c in columns]
    compared = ", ".join(c for c in columns if c not in ignore)
    key_list = ", ".join(safe_identifier(k) for k in key)
    column_list = ", ".join(columns)
    with transaction(con) if own_transaction else nullcontext(con):
        deleted = con.execute(
            f"""DELETE FROM {table} WHERE category = ? AND ({key_list}) IN (
                    SELECT ({key_list}) FROM (
                        SELECT {compared} FROM {table} WHERE category = ?
                        EXCEPT SELECT {compared} FROM {source}))""",
            [category, category],
        ).fetchall()[0][0]
        inserted = con.execute(
            f"""INSERT INTO {table} ({column_list})
                SELECT {column_list} FROM {source}
                WHERE ({key_list}) IN (
                    SELECT ({key_list}) FROM (
                        SELECT {compared} FROM {source}
                        EXCEPT SELECT {compared} FROM {table} WHERE category = ?))""",
            [category],
        ).fetchall()[0][0]
    return {"inserted": int(inserted), "deleted": int(deleted)}


def sync_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    category: str,
    frame: Any,
    key: tuple[str, ...],
    ignore: tuple[str, ...] = ("created_at", "updated_at"),
    own_transaction: bool = True,
) -> dict[str, int]:
    """Make one category partition of `table` equal to `frame`, touching only rows that changed.

    Rows are compared on every frame column except `ignore` (timestamps), so an unchanged row
    keeps its original timestamp. Delete + insert run in one transaction (the caller's, when
    `own_transaction` is False, so several tables can change together)."""
    con.register("_sync_frame", frame)
    try:
        return _sync_from(
            con, table, category, "_sync_frame", list(frame.columns), key, ignore, own_transaction
        )
    finally:
        con.unregister("_sync_frame")


def sync_partition_from_query(
    con: duckdb.DuckDBPyConnection,
    table: str,
    category: str,
    select_sql: str,
    params: list[Any],
    key: tuple[str, ...],
    ignore: tuple[str, ...] = ("created_at", "updated_at"),
    own_transaction: bool = True,
) -> dict[str, int]:
    """Like sync_partition, with the new partition given as a parameterised SELECT."""
    con.execute("DROP TABLE IF EXISTS _sync_query")
    con.execute(f"CREATE TEMP TABLE _sync_query AS {select_sql}", params)
    try:
        columns = [row[0] for row in con.execute("DESCRIBE _sync_query").fetchall()]
        return _sync_from(
            con, table, category, "_sync_query", columns, key, ignore, own_transaction
        )
    finally:
        con.execute("DROP TABLE IF EXISTS _sync_query")


def query_pl(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> Any:
    """A parameterised query as a Polars frame, zero-copy from DuckDB.

    DuckDB 2.0 has no execute(...).pl(), and con.sql() refuses to run while an earlier execute()
    result is still open (fetchone() leaves it open): complete() closes it first."""
    con.complete()
    return con.sql(sql, params=params).pl()


ANALYSIS_DIR = settings.REPO_ROOT / "sql" / "analysis"


def analysis_files() -> list[Path]:
    """The numbered analysis files (views); other .sql files there are plain queries."""
    return sorted(p for p in ANALYSIS_DIR.glob("*.sql") if p.name[:3].isdigit())


def apply_analysis_views(con: duckdb.DuckDBPyConnection) -> int:
    for path in analysis_files():
        con.execute(path.read_text())
    return len(analysis_files())
