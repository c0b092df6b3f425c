"""Spools (paid answers on disk before they count) and the SQLite live store (claims, answers)."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from mkailin_assets.db import open_connection
from mkailin_assets.llm.cache import CallRecord, LLMCache, record_to_json
from mkailin_assets.llm.client import LLMClient
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.live_store import SQLiteLiveStore
from mkailin_assets.llm.spool import (
    Spool,
    SpoolError,
    orphaned_spools,
    read_spool,
    spool_dir_for,
)


def _record(call_id: str, status: str = "ok") -> CallRecord:
    return CallRecord(
        call_id=call_id,
        kind="chat",
        role="test",
        item_id=call_id,
        model="m",
        prompt_version="v1",
        request={"messages": [{"role": "user", "content": call_id}]},
        status=status,
        response_content='{"answer": 1}' if status == "ok" else None,
        error=None if status == "ok" else "HTTP 500",
    )


def _client(db: Path) -> LLMClient:
    return LLMClient(LLMConfig(backend="offline"), database_path=str(db))


def test_a_spool_is_locked_while_open_and_orphaned_once_closed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "holder-a")
    spool.append([record_to_json(_record("k1"))])
    assert orphaned_spools(tmp_path) == []  # its client lives: never imported from under it
    spool.close()
    assert orphaned_spools(tmp_path) == [spool.path]
    assert [row["call_id"] for row in read_spool(spool.path).rows] == ["k1"]


def test_a_torn_last_line_is_refused_naming_the_file_and_the_rest_imported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "m.duckdb"
    spool = Spool(spool_dir_for(db), "dead-run")
    spool.append([record_to_json(_record("k1")), record_to_json(_record("k2"))])
    spool.close()
    with open(spool.path, "a") as handle:
        handle.write('{"call_id": "k3", "status": "o')  # the write a crash cut short
    con = open_connection(db)
    client = _client(db)
    with caplog.at_level("WARNING"):
        imported = client.commit(con)
    assert imported["orphaned"] == 2
    assert "1 line(s) were not whole records" in caplog.text and str(spool.path) in caplog.text
    refused = spool.path.with_name(spool.path.name + ".refused")
    assert refused.read_text().startswith('{"call_id": "k3"')
    assert not spool.path.exists()
    rows = con.execute("SELECT call_id FROM llm_calls ORDER BY call_id").fetchall()
    assert rows == [("k1",), ("k2",)]
    assert client.accounting()["llm.spool_lines_refused"] == 1
    client.close()
    con.close()


def test_a_spool_of_another_format_version_is_refused_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "m.duckdb"
    directory = spool_dir_for(db)
    directory.mkdir()
    old = directory / "old-version.jsonl"
    old.write_text(
        json.dumps({"mkailin_spool": 0}) + "\n" + json.dumps(record_to_json(_record("k1"))) + "\n"
    )
    con = open_connection(db)
    with caplog.at_level("WARNING"):
        _client(db).commit(con)
    assert "format version 0" in caplog.text and str(old) in caplog.text
    assert con.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == 0
    assert (directory / "old-version.jsonl.refused").exists()
    con.close()


def test_a_failure_in_an_old_spool_never_replaces_a_recorded_answer(tmp_path: Path) -> None:
    db = tmp_path / "m.duckdb"
    con = open_connection(db)
    cache = LLMCache(con)
    cache.write(_record("k1", "ok"))
    spool = Spool(spool_dir_for(db), "old-run")
    spool.append([record_to_json(_record("k1", "failed"))])
    spool.close()
    _client(db).commit(con)
    assert con.execute("SELECT status FROM llm_calls").fetchall() == [("ok",)]
    cache.close()
    con.close()


def test_disk_full_while_spooling_fails_naming_the_spool_and_keeps_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, "full-disk")
    spool.append([record_to_json(_record("k1"))])
    import errno
    import os

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(SpoolError, match="No space left on device") as raised:
        spool.append([record_to_json(_record("k2"))])
    assert str(spool.path) in str(raised.value)
    monkeypatch.undo()
    spool.close()
    assert read_spool(spool.path).rows[0]["call_id"] == "k1"


def test_claims_are_exclusive_until_published_released_or_lapsed(tmp_path: Path) -> None:
    store = SQLiteLiveStore(tmp_path / "live.sqlite")
    assert store.claim("k", "a", lease_s=30)
    assert store.claim("k", "a", lease_s=30)  # the holder's own claim
    assert not store.claim("k", "b", lease_s=30)
    assert store.holder_of("k") == "a"
    store.release(["k"], "a")
    assert store.claim("k", "b", lease_s=0.2)
    time.sleep(0.3)
    assert store.claim("k", "a", lease_s=30)  # b stopped renewing: its claim lapsed
    store.publish("k", '{"call_id": "k"}', "a")
    assert not store.claim("k", "b", lease_s=30)  # answered: read it, do not send it
    assert store.lookup(["k", "other"]) == {"k": '{"call_id": "k"}'}
    store.renew("a", 30)
    store.close()


def _race(path: str, holder: str, keys: int, out: multiprocessing.Queue) -> None:
    store = SQLiteLiveStore(path)
    out.put([k for k in range(keys) if store.claim(f"key-{k}", holder, lease_s=60)])
    store.close()


def test_two_processes_racing_win_each_claim_exactly_once(tmp_path: Path) -> None:
    path = str(tmp_path / "live.sqlite")
    SQLiteLiveStore(path).close()
    out: multiprocessing.Queue = multiprocessing.Queue()
    racers = [multiprocessing.Process(target=_race, args=(path, name, 1000, out)) for name in "ab"]
    for racer in racers:
        racer.start()
    won = [out.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
    assert sorted(won[0] + won[1]) == list(range(1000))


def _open_and_read(path: str, out: multiprocessing.Queue) -> None:
    try:
        store = SQLiteLiveStore(path)
        store.lookup(["key"])
        store.close()
        out.put(None)
    except Exception as error:  # reported to the parent, which names it
        out.put(repr(error))


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    # Runs started together each create the store; switching it to WAL could fail at once with
    # "database is locked" (SQLite skips the busy handler where waiting could deadlock).
    errors: list[str] = []
    for round_ in range(8):
        path = str(tmp_path / f"live-{round_}.sqlite")
        out: multiprocessing.Queue = multiprocessing.Queue()
        openers = [
            multiprocessing.Process(target=_open_and_read, args=(path, out)) for _ in range(6)
        ]
        for opener in openers:
            opener.start()
        errors += [e for e in (out.get(timeout=90) for _ in openers) if e]
        for opener in openers:
            opener.join(timeout=60)
    assert errors == []


def test_setup_retries_while_locked_and_raises_other_errors_at_once() -> None:
    from mkailin_assets.llm.live_store import _retry_while_locked

    attempts = []

    def locked_twice() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise sqlite3.OperationalError("database is locked")

    _retry_while_locked(locked_twice)
    assert len(attempts) == 3

    def broken() -> None:
        attempts.append(1)
        raise sqlite3.OperationalError("no such table: llm_live")

    attempts.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        _retry_while_locked(broken)
    assert len(attempts) == 1

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _retry_while_locked(
            lambda: (_ for _ in ()).throw(sqlite3.OperationalError("database is locked")),
            deadline_s=0.05,
        )
