"""Reading while a run writes: the live file refuses other processes, the read snapshot does not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mkailin_assets.db import publish_snapshot, snapshot_path
from mkailin_assets.resources.duckdb_store import DuckDBStore

READ = (
    "import duckdb, sys\n"
    "con = duckdb.connect(sys.argv[1], read_only=True)\n"
    "print(con.execute('SELECT count(*) FROM notes').fetchall()[0][0])\n"
)


def read_in_another_process(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", READ, str(path)], capture_output=True, text=True, timeout=60
    )


def test_a_reader_opens_the_snapshot_while_a_writer_holds_the_file(tmp_path):
    store = DuckDBStore(path=str(tmp_path / "mkailin.duckdb"), lock_timeout_s=1.0)
    with store.connect() as con:
        con.execute("CREATE TABLE notes AS SELECT range AS n FROM range(3)")
    snapshot = snapshot_path(store.path)
    assert snapshot == tmp_path / "mkailin.read.duckdb" and snapshot.exists()

    with store.connect() as con:  # a run writing
        con.execute("INSERT INTO notes VALUES (3)")
        live = read_in_another_process(store.path)
        during = read_in_another_process(snapshot)
    # The live file is locked by the writer (the failure users met); the snapshot answers.
    assert live.returncode != 0 and "lock" in live.stderr.lower()
    assert during.returncode == 0, during.stderr
    assert during.stdout.strip() == "3"
    # After the write the snapshot carries it.
    assert read_in_another_process(snapshot).stdout.strip() == "4"


def test_the_snapshot_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("MKAILIN_READ_SNAPSHOT", "off")
    store = DuckDBStore(path=str(tmp_path / "db.duckdb"))
    with store.connect() as con:
        con.execute("CREATE TABLE notes (n INT)")
    assert not snapshot_path(store.path).exists()
    assert publish_snapshot(store.path) is None
    monkeypatch.setenv("MKAILIN_READ_SNAPSHOT", "maybe")
    with pytest.raises(ValueError, match="MKAILIN_READ_SNAPSHOT"):
        publish_snapshot(store.path)


def _write(store: DuckDBStore, value: int) -> None:
    with store.connect() as con:
        con.execute("CREATE TABLE IF NOT EXISTS notes (n INT)")
        con.execute("INSERT INTO notes VALUES (?)", [value])


def test_a_file_above_the_inline_limit_is_copied_by_the_sensor_once_runs_end(tmp_path, monkeypatch):
    import dagster as dg

    from mkailin_assets.automation.read_snapshot import (
        build_read_snapshot_sensor,
        refresh_when_idle,
    )

    db = tmp_path / "mkailin.duckdb"
    monkeypatch.setenv("MKAILIN_DUCKDB_PATH", str(db))
    monkeypatch.setenv("MKAILIN_READ_SNAPSHOT_INLINE_MAX_MB", "0")  # every file is "large"
    store = DuckDBStore(path=str(db))
    _write(store, 1)
    snapshot = snapshot_path(db)
    assert not snapshot.exists()  # the writing step did not pay for the copy
    assert "queued or running" in refresh_when_idle(db, runs_in_flight=2)
    assert not snapshot.exists()

    sensor = build_read_snapshot_sensor()
    with dg.DagsterInstance.ephemeral() as instance:  # no run in flight
        copied = sensor(dg.build_sensor_context(instance=instance))
        assert read_in_another_process(snapshot).stdout.strip() == "1"
        assert "copied" in copied.skip_message
        again = sensor(dg.build_sensor_context(instance=instance))
        assert again.skip_message == "the read snapshot is up to date"
        _write(store, 2)  # the file changes: stale again, copied on the next tick
        sensor(dg.build_sensor_context(instance=instance))
    assert read_in_another_process(snapshot).stdout.strip() == "2"


def test_the_sensor_never_copies_under_a_writer(tmp_path, monkeypatch):
    from mkailin_assets.automation.read_snapshot import refresh_when_idle

    monkeypatch.setenv("MKAILIN_READ_SNAPSHOT_INLINE_MAX_MB", "0")
    db = tmp_path / "mkailin.duckdb"
    _write(DuckDBStore(path=str(db)), 1)
    # A writer in another process (as a run would be) holds the file.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
         " time.sleep(60)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        outcome = refresh_when_idle(db, runs_in_flight=0, lock_timeout_s=0.5)
        assert outcome == "a writer holds the database: the copy waits for the next tick"
        assert not snapshot_path(db).exists()
    finally:
        holder.kill()
        holder.wait()
    assert refresh_when_idle(db, runs_in_flight=0) == snapshot_path(db)
