"""Atomic writes of one category partition: replace it whole, or sync only the rows that changed."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import duckdb

from mkailin_assets.db.connection import safe_identifier, transaction


def replace_partition(con: duckdb.DuckDBPyConnection, table: str, category: str, frame: Any) -> int:
    """Atomically replace one category partition of `table` with the rows of a Polars/Arrow frame.

    Columns are matched by name, so the frame may list them in any order."""
    table = safe_identifier(table)
    with transaction(con):
        con.execute(f"DELETE FROM {table} WHERE category = ?", [category])
        insert_frame(con, table, frame)
    return len(frame)


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: Any) -> int:
    """Append a Polars/Arrow frame to a table, columns matched by name (zero-copy scan); runs in
    the caller's transaction, if any. Returns the rows appended."""
    table = safe_identifier(table)
    column_list = ", ".join(safe_identifier(c) for c in frame.columns)
    if not len(frame):
        return 0
    con.register("_insert_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM _insert_frame")
    finally:
        con.unregister("_insert_frame")
    return len(frame)


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
