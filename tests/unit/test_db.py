"""Connections from mkailin_assets.db carry the project's settings."""

from __future__ import annotations

from mkailin_assets.db import open_connection


def test_connections_are_quiet_bounded_and_never_fetch_extensions(tmp_path, monkeypatch):
    monkeypatch.setenv("MKAILIN_DUCKDB_MEMORY_LIMIT", "300MB")
    con = open_connection(tmp_path / "settings.duckdb")
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_progress_bar',"
            " 'autoinstall_known_extensions', 'autoload_known_extensions', 'memory_limit')"
        ).fetchall()
    )
    con.close()
    # No progress bar: it would print into run logs (Dagster captures stdout).
    assert settings["enable_progress_bar"] == "false"
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["memory_limit"].startswith("286")  # 300 MB = 286.1 MiB, as DuckDB prints it
