"""The SQL the package carries: the DuckDB schema and the analysis views and queries.

The files live in the repository's top-level `sql/`, where users read and run them.
`mkailin_assets/sql` links to that folder: an editable install reads the files through the link,
and a wheel carries copies as package data (pyproject.toml). Both are read here with
importlib.resources, so the code finds them however the package was installed.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

SCHEMA = "schema"
ANALYSIS = "analysis"


class SQLFilesMissing(FileNotFoundError):
    """The installed package has no SQL files where it should (a broken build or install)."""


def sql_dir(kind: str) -> Traversable:
    """The folder of one kind of SQL file (`schema` or `analysis`) inside the package."""
    return files("mkailin_assets").joinpath("sql", kind)


def _sql_files(kind: str) -> list[Traversable]:
    folder = sql_dir(kind)
    if not folder.is_dir():
        return []
    return sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)


def schema_files() -> list[Traversable]:
    """The numbered schema files in the order they apply; never empty (raises instead)."""
    found = _sql_files(SCHEMA)
    if not found:
        raise SQLFilesMissing(
            f"no schema files in {sql_dir(SCHEMA)}: the package was built or installed without "
            "its SQL (pyproject.toml's package-data carries sql/schema/*.sql)"
        )
    return found


def analysis_files() -> list[Traversable]:
    """The numbered analysis files (views); other .sql files there are plain queries."""
    return [f for f in _sql_files(ANALYSIS) if f.name[:3].isdigit()]


def analysis_sql(name: str) -> str:
    """The text of one analysis file, e.g. `demo_summary.sql`."""
    path = sql_dir(ANALYSIS).joinpath(name)
    if not path.is_file():
        raise SQLFilesMissing(f"no analysis file {name!r} in {sql_dir(ANALYSIS)}")
    return path.read_text()
