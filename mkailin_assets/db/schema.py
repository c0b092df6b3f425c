"""The numbered schema files, applied once each and recorded; the analysis views."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mkailin_assets import settings
from mkailin_assets.db.connection import transaction

SCHEMA_DIR = settings.REPO_ROOT / "sql" / "schema"
ANALYSIS_DIR = settings.REPO_ROOT / "sql" / "analysis"


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
        with transaction(con):
            con.execute(path.read_text())
            con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, path.name])
    # fetchall, not fetchone: DuckDB 2.0 keeps a result open until it is drained.
    row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
    return int(row[0] or 0)


def analysis_files() -> list[Path]:
    """The numbered analysis files (views); other .sql files there are plain queries."""
    return sorted(p for p in ANALYSIS_DIR.glob("*.sql") if p.name[:3].isdigit())


def apply_analysis_views(con: duckdb.DuckDBPyConnection) -> int:
    for path in analysis_files():
        con.execute(path.read_text())
    return len(analysis_files())
