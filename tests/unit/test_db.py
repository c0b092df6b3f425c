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


def test_a_wait_for_another_process_lock_is_said_naming_the_holder(tmp_path, caplog, monkeypatch):
    import subprocess
    import sys

    from mkailin_assets.db import connection

    monkeypatch.setattr(connection, "_REPORT_LOCK_WAIT_S", 0.2)
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print(1, flush=True); time.sleep(2)",
        ],
        stdout=subprocess.PIPE,
    )
    holder.stdout.readline()  # the file is held
    with caplog.at_level("WARNING", logger="mkailin.db"):
        con = connection.open_connection(path, lock_timeout_s=30)
    con.close()
    holder.wait(timeout=10)
    assert "waiting" in caplog.text and f"PID {holder.pid}" in caplog.text
