"""The numbered schema files, applied once each and recorded; the analysis views.

The files come with the package (mkailin_assets.sql_files); none found raises SQLFilesMissing."""

from __future__ import annotations

import duckdb

from mkailin_assets.db.connection import transaction
from mkailin_assets.settings import REPO_ROOT
from mkailin_assets.sql_files import analysis_files, schema_files

ANALYSIS_DIR = REPO_ROOT / "sql" / "analysis"  # the folder users run (the package carries a copy)

__all__ = ["ANALYSIS_DIR", "analysis_files", "apply_analysis_views", "apply_schema", "schema_files"]


def apply_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every schema file once, in order, recording each version; returns the version."""
    files = schema_files()  # before touching the database: a broken install fails loudly
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, file_name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    applied = {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}
    for path in files:
        version = int(path.name.split("_", 1)[0])
        if version in applied:
            continue
        with transaction(con):
            con.execute(path.read_text())
            con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, path.name])
    # fetchall, not fetchone: DuckDB 2.0 keeps a result open until it is drained.
    row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
    return int(row[0] or 0)


def apply_analysis_views(con: duckdb.DuckDBPyConnection) -> int:
    views = analysis_files()
    for path in views:
        con.execute(path.read_text())
    return len(views)
