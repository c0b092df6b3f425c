"""Fixtures for unit tests that need the project's tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from mkailin_assets.db import apply_schema, open_connection


@pytest.fixture
def schema_con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh DuckDB file with the project's schema applied."""
    connection = open_connection(tmp_path / "unit.duckdb")
    apply_schema(connection)
    yield connection
    connection.close()
