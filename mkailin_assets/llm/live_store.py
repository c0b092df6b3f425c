"""The live store: what concurrent runs share while their model calls are in flight.

Two runs of different categories ask for the same calls (categories share abstracts, prompts are
category-free). Before a client sends a call it claims it here; a run that finds the call
claimed by another waits for that run's answer instead of paying again. Published answers stay
here as the live cache; DuckDB's `llm_calls` remains the analytical record (each run imports its
spool there in its write phase).

DuckDB allows one process per file, so it cannot be this store: SQLite in WAL mode (one file
beside the DuckDB file, many processes reading and writing) by default; PostgreSQL
(`llm/live_store_postgres.py`) when the Dagster instance is on PostgreSQL, so runs on other
machines share it too. Claims are leases on the store's clock: a holder that dies stops renewing
and its claims lapse after `lease_s`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_live (
    call_id TEXT PRIMARY KEY, record TEXT NOT NULL, published_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS llm_claims (
    call_id TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS llm_claims_holder ON llm_claims (holder);
"""


class LiveStore(Protocol):
    def lookup(self, keys: list[str]) -> dict[str, str]: ...

    def claim(self, key: str, holder: str, lease_s: float) -> bool: ...

    def holder_of(self, key: str) -> str | None: ...

    def renew(self, holder: str, lease_s: float) -> None: ...

    def publish(self, key: str, record_json: str, holder: str) -> None: ...

    def release(self, keys: list[str], holder: str) -> None: ...

    def prune(self, older_than_s: float) -> None: ...

    def close(self) -> None: ...


def live_store_path(database_path: str | Path) -> Path:
    path = Path(database_path)
    return path.with_name(path.name + ".live.sqlite")


SETUP_DEADLINE_S = 60.0


def _ensure_wal(con: sqlite3.Connection) -> None:
    # WAL is a property of the file: once one process set it, the others only read it.
    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        con.execute("PRAGMA journal_mode=WAL")


def _retry_while_locked(step, deadline_s: float = SETUP_DEADLINE_S) -> None:
    """Runs a setup step, again while another process holds the file.

    Switching to WAL, or creating the schema while another process does the same, can fail at
    once with "database is locked": SQLite skips the busy handler where waiting could deadlock.
    """
    give_up = time.monotonic() + deadline_s
    pause = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > give_up:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


class SQLiteLiveStore:
    """The live store in one SQLite file (WAL), a connection per thread."""

    LOOKUP_CHUNK = 500  # SQLite's parameter limit is far above; keeps statements small

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        con = self._con()
        _retry_while_locked(lambda: con.executescript(_SCHEMA))

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(
                self.path, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            con.execute("PRAGMA busy_timeout=60000")
            _retry_while_locked(lambda: _ensure_wal(con))
            con.execute("PRAGMA synchronous=NORMAL")  # the spool is the durable copy
            self._local.con = con
            with self._lock:
                self._connections.append(con)
        return con

    def lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        con = self._con()
        for start in range(0, len(keys), self.LOOKUP_CHUNK):
            chunk = keys[start : start + self.LOOKUP_CHUNK]
            rows = con.execute(
                "SELECT call_id, record FROM llm_live"
                " WHERE call_id IN (SELECT value FROM json_each(?))",
                [json.dumps(chunk)],
            ).fetchall()
            found.update(rows)
        return found

    def claim(self, key: str, holder: str, lease_s: float) -> bool:
        con = self._con()
        now = time.time()
        expires = now + lease_s
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("SELECT 1 FROM llm_live WHERE call_id = ?", [key]).fetchone():
                con.execute("COMMIT")
                return False
            row = con.execute(
                "INSERT INTO llm_claims (call_id, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (call_id) DO UPDATE SET holder = excluded.holder,"
                " expires_at = excluded.expires_at"
                " WHERE llm_claims.expires_at < ? OR llm_claims.holder = excluded.holder"
                " RETURNING holder",
                [key, holder, expires, now],
            ).fetchone()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return row is not None

    def holder_of(self, key: str) -> str | None:
        row = (
            self._con().execute("SELECT holder FROM llm_claims WHERE call_id = ?", [key]).fetchone()
        )
        return row[0] if row else None

    def renew(self, holder: str, lease_s: float) -> None:
        expires = time.time() + lease_s
        self._con().execute(
            "UPDATE llm_claims SET expires_at = ? WHERE holder = ?", [expires, holder]
        )

    def publish(self, key: str, record_json: str, holder: str) -> None:
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "INSERT OR REPLACE INTO llm_live (call_id, record, published_at) VALUES (?, ?, ?)",
                [key, record_json, time.time()],
            )
            con.execute("DELETE FROM llm_claims WHERE call_id = ?", [key])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def release(self, keys: list[str], holder: str) -> None:
        con = self._con()
        for key in keys:
            con.execute("DELETE FROM llm_claims WHERE call_id = ? AND holder = ?", [key, holder])

    def prune(self, older_than_s: float) -> None:
        """Drop answers published more than `older_than_s` ago (they are in llm_calls by then:
        each run imports its spool before it ends) and lapsed claims."""
        now = time.time()
        con = self._con()
        con.execute("DELETE FROM llm_live WHERE published_at < ?", [now - older_than_s])
        con.execute("DELETE FROM llm_claims WHERE expires_at < ?", [now - older_than_s])

    def close(self) -> None:
        with self._lock:
            for con in self._connections:
                con.close()
            self._connections.clear()
        self._local = threading.local()
