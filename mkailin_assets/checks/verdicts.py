"""Check results that SQL (or Polars) already decided: a count or a comparison, no GX suite.

Great Expectations is for checking the columns of a frame (gx_runner); a reconciliation, a
rate or a count of violating rows is one number, reported as it is.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import duckdb


def verdict(check_name: str, passed: bool, metadata: dict[str, Any]) -> dg.AssetCheckResult:
    """Severity ERROR like every GX check, so a blocking check stops downstream."""
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=bool(passed),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def no_violations(
    check_name: str, violations: int, metadata: dict[str, Any] | None = None
) -> dg.AssetCheckResult:
    """Passes when no row violates the rule; the count is reported either way."""
    return verdict(check_name, violations == 0, {"violations": violations, **(metadata or {})})


def sql_count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    """The single number a SELECT count(*) ... returns (drained: DuckDB 2.0 keeps results open)."""
    return int(con.execute(sql, params).fetchall()[0][0])


def count_check(
    con: duckdb.DuckDBPyConnection,
    check_name: str,
    violations_sql: str,
    params: list[Any],
    metadata: dict[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """A check whose SQL counts the rows that break the rule."""
    return no_violations(check_name, sql_count(con, violations_sql, params), metadata)
