"""Connections to the DuckDB file, transactions and parameterised queries into Polars."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from mkailin_assets import settings

_log = logging.getLogger("mkailin.db")
_REPORT_LOCK_WAIT_S = 5.0  # a wait this long is said (stderr of the step: its compute logs)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# Extensions must never be fetched at run time: a missing one fails loudly instead.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# DuckDB's default memory limit is 80% of RAM; a writer holding a whole release file's upsert in
# one transaction would take that much before spilling. Bounded here (MKAILIN_DUCKDB_MEMORY_LIMIT),
# the excess spills to DuckDB's temp directory beside the database file.


def _connection_config() -> dict[str, Any]:
    config: dict[str, Any] = dict(_CONFIG)
    config["memory_limit"] = settings.get_settings().duckdb_memory_limit
    return config


def safe_identifier(name: str) -> str:
    """Table and column names come from code, never from input; still, refuse anything odd."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


_HOLDER = re.compile(r"held in (.*?) \(PID (\d+)\)")


def lock_holder(error: duckdb.Error) -> str:
    """Who holds the file, as DuckDB names it (the process and its PID), else DuckDB's words."""
    found = _HOLDER.search(str(error))
    return f"held by PID {found.group(2)} ({found.group(1)})" if found else str(error)


def open_connection(
    path: str | Path, read_only: bool = False, lock_timeout_s: float = 120.0
) -> duckdb.DuckDBPyConnection:
    """Open the database file, waiting (with backoff) while another process holds the lock."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    deadline = started + lock_timeout_s
    delay = 0.05
    reported = 0.0
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=_connection_config())
        except duckdb.IOException as error:
            if not is_lock_conflict(error) or time.monotonic() >= deadline:
                raise
            waited = time.monotonic() - started
            if waited - reported >= _REPORT_LOCK_WAIT_S:  # DuckDB's message names the holder
                reported = waited
                _log.warning(
                    f"waiting {waited:.0f}s for the DuckDB file {path}: {lock_holder(error)}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        # A per-connection setting: the bar would print into run logs (Dagster captures stdout)
        # during statements longer than two seconds.
        con.execute("SET enable_progress_bar = false")
        return con


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


def query_pl(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> Any:
    """A parameterised query as a Polars frame, zero-copy from DuckDB.

    DuckDB 2.0 has no execute(...).pl(), and con.sql() refuses to run while an earlier execute()
    result is still open (fetchone() leaves it open): complete() closes it first."""
    con.complete()
    return con.sql(sql, params=params).pl()
