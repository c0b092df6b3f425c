"""What the stages share: clearing a partition, previewing what was written, the result shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import duckdb
import polars as pl

from mkailin_assets.db import safe_identifier


@dataclass(frozen=True)
class Preview:
    """The first rows of what a stage wrote, for a person to read (the asset renders them)."""

    headers: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


Report = TypeVar("Report")


@dataclass(frozen=True)
class StageResult(Generic[Report]):
    """A category partition a stage wrote: its rows, the stage's report, what changed, a preview."""

    rows: int
    report: Report
    changes: dict[str, int]
    preview: Preview
    # What the caller's `then` read in the stage's last write phase (e.g. the checks' rows).
    after_write: Any = field(default=None, kw_only=True)


AfterWrite = Callable[[duckdb.DuckDBPyConnection], Any] | None


def read_after_write(
    con: duckdb.DuckDBPyConnection, result: StageResult, then: AfterWrite
) -> StageResult:
    """`result` with what `then` reads from `con`, the partition just written and the writer
    still held: one phase fewer to claim, open and hand on than a separate read after it."""
    return replace(result, after_write=then(con)) if then is not None else result


def fetch_preview(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], limit: int = 5
) -> Preview:
    cursor = con.execute(f"{sql} LIMIT {int(limit)}", params)
    return Preview([d[0] for d in cursor.description], cursor.fetchall())


def delete_partition(con: duckdb.DuckDBPyConnection, table: str, category: str) -> int:
    """Delete one category partition of `table`; returns how many rows went."""
    table = safe_identifier(table)
    rows = con.execute(f"DELETE FROM {table} WHERE category = ?", [category]).fetchall()
    return int(rows[0][0])


def frame_preview(frame: pl.DataFrame, columns: list[str], headers: list[str]) -> Preview:
    """A preview of rows a stage built in memory (the frame is already cut to size)."""
    return Preview(headers, list(frame.select(columns).iter_rows()))
