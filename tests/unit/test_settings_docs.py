"""The settings table says what the code does: the export folder's default, the BM25 pool's
floor, the daily schedule's time."""

from __future__ import annotations

from pathlib import Path

from mkailin_assets import settings
from mkailin_assets.agents import search_index
from mkailin_assets.automation.schedules import RELEASE_CRON


def _row(variable: str) -> str:
    (line,) = [
        line
        for line in settings.markdown_table().splitlines()
        if line.startswith(f"| `{variable}`")
    ]
    return line


def test_export_dir_default_is_beside_the_default_database() -> None:
    row = _row("MKAILIN_EXPORT_DIR")
    beside = Path(settings.Settings().duckdb_path).parent / "exports"
    shown = str(beside.relative_to(settings.REPO_ROOT))
    assert f"| `{shown}` |" in row and "beside the DuckDB file" in row
    assert settings.get_settings({}).export_dir == beside.resolve()
    other = settings.get_settings({"MKAILIN_DUCKDB_PATH": "/srv/m/m.duckdb"}).export_dir
    assert other == Path("/srv/m/exports")


def test_bm25_pool_floor_is_three_k(monkeypatch) -> None:
    assert "3 × k" in _row("MKAILIN_BM25_POOL")
    monkeypatch.setenv("MKAILIN_BM25_POOL", "1")
    assert search_index.pool_size(4) == 12
    monkeypatch.setenv("MKAILIN_BM25_POOL", "50")
    assert search_index.pool_size(4) == 50


def test_schedule_time_is_documented() -> None:
    minute, hour, *_ = RELEASE_CRON.split()
    assert f"{int(hour):02d}:{int(minute):02d} UTC" in _row("MKAILIN_RELEASE_CHECK")
