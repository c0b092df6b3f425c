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
