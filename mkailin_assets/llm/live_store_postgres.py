"""The LLM live store on PostgreSQL: claims on requests in flight and published answers, shared by
every run process (on any machine) while runs overlap.

Used when the Dagster instance is on PostgreSQL (`instance_check.postgres_dsn_from_instance`);
the SQLite store beside the DuckDB file is the default. DuckDB's `llm_calls` stays the record;
this store only lets two runs that want the same request agree on who pays for it.

Two tables: `mkailin_llm_live` (call_id -> the final record's JSON text, kept verbatim) and
`mkailin_llm_claims` (call_id -> holder and lease expiry). Leases run on the server's clock
(`now()`), so the clocks of the run machines do not matter. A claim is one
`INSERT ... ON CONFLICT DO UPDATE ... WHERE` statement: the row lock makes it atomic between
processes. Each thread has its own connection (a psycopg2 connection serialises its statements).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

try:
    import psycopg2
except ImportError:  # the `postgres` extra is not installed; said when a store is opened
    psycopg2 = None

LIVE_TABLE = "mkailin_llm_live"
CLAIMS_TABLE = "mkailin_llm_claims"
# Any constant shared by every process: serialises the CREATE TABLEs (PostgreSQL's
# CREATE TABLE IF NOT EXISTS can still fail with a unique violation when two run it at once).
_SCHEMA_LOCK_KEY = 0x6D6B61696C696E  # "mkailin"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {LIVE_TABLE} (
    call_id text PRIMARY KEY,
    record text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {CLAIMS_TABLE} (
    call_id text PRIMARY KEY,
    holder text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS {CLAIMS_TABLE}_holder ON {CLAIMS_TABLE} (holder);
"""

# Take the claim unless another holder's lease is live. The record check and the claim are one
# transaction; the check after the insert sees a publish that committed while we waited on the row.
_CLAIM = f"""
INSERT INTO {CLAIMS_TABLE} AS c (call_id, holder, expires_at)
VALUES (%(key)s, %(holder)s, now() + make_interval(secs => %(lease)s))
ON CONFLICT (call_id) DO UPDATE
    SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE c.expires_at < now() OR c.holder = excluded.holder
RETURNING holder
"""


class LiveStoreError(RuntimeError):
    """The live store's PostgreSQL cannot be reached or used (the message never holds a password)."""


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn.split("password=")[0].strip() if "password=" in dsn else dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresLiveStore:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._local = threading.local()
        if psycopg2 is None:
            raise LiveStoreError(
                'the PostgreSQL live store needs a PostgreSQL driver: pip install -e ".[postgres]"'
            )
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self._create_tables()

    # ---- connections ---------------------------------------------------------------------------
    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is not None and not connection.closed:
            return connection
        if self._closed:
            raise LiveStoreError("the LLM live store is closed")
        try:
            connection = psycopg2.connect(self._dsn)
        except psycopg2.Error as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise LiveStoreError(
                f"cannot reach the LLM live store's PostgreSQL at {redact(self._dsn)} "
                f"(the Dagster instance's DAGSTER_PG_* settings): {first_line}"
            ) from error
        connection.autocommit = True
        self._local.connection = connection
        with self._lock:
            self._connections.append(connection)
        return connection

    def _create_tables(self) -> None:
        connection = self._connection()
        connection.autocommit = False
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                cursor.execute(_SCHEMA)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.autocommit = True

    # ---- the interface -------------------------------------------------------------------------
    def lookup(self, keys: list[str]) -> dict[str, str]:
        """call_id -> record JSON text, for the keys that have a published final record."""
        if not keys:
            return {}
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"SELECT call_id, record FROM {LIVE_TABLE} WHERE call_id = ANY(%s)", (list(keys),)
            )
            return dict(cursor.fetchall())

    def claim(self, key: str, holder: str, lease_s: float) -> bool:
        """Take the claim on `key`: True when we now hold it, False when another holder's lease is
        live or the key already has a published record."""
        connection = self._connection()
        connection.autocommit = False
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT 1 FROM {LIVE_TABLE} WHERE call_id = %s", (key,))
                if cursor.fetchone() is not None:
                    connection.rollback()
                    return False
                cursor.execute(_CLAIM, {"key": key, "holder": holder, "lease": float(lease_s)})
                if cursor.fetchone() is None:
                    connection.rollback()
                    return False
                # A new snapshot (READ COMMITTED): a publish that committed meanwhile wins.
                cursor.execute(f"SELECT 1 FROM {LIVE_TABLE} WHERE call_id = %s", (key,))
                if cursor.fetchone() is not None:
                    connection.rollback()
                    return False
            connection.commit()
            return True
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.autocommit = True

    def holder_of(self, key: str) -> str | None:
        """The holder of a live claim on `key`, if any (for "waiting on ..." messages)."""
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"SELECT holder FROM {CLAIMS_TABLE} WHERE call_id = %s AND expires_at >= now()",
                (key,),
            )
            row = cursor.fetchone()
        return row[0] if row else None

    def renew(self, holder: str, lease_s: float) -> None:
        """Extend every lease `holder` has to lease_s from now."""
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"UPDATE {CLAIMS_TABLE} SET expires_at = now() + make_interval(secs => %s) "
                "WHERE holder = %s",
                (float(lease_s), holder),
            )

    def publish(self, key: str, record_json: str, holder: str) -> None:
        """Upsert the final record and drop the claim on `key`, whoever holds it, in one step."""
        connection = self._connection()
        connection.autocommit = False
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {LIVE_TABLE} (call_id, record) VALUES (%s, %s) "
                    "ON CONFLICT (call_id) DO UPDATE "
                    "SET record = excluded.record, published_at = now()",
                    (key, record_json),
                )
                cursor.execute(f"DELETE FROM {CLAIMS_TABLE} WHERE call_id = %s", (key,))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.autocommit = True

    def release(self, keys: list[str], holder: str) -> None:
        """Drop `holder`'s claims on `keys` (others' claims stay)."""
        if not keys:
            return
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {CLAIMS_TABLE} WHERE call_id = ANY(%s) AND holder = %s",
                (list(keys), holder),
            )

    def prune(self, older_than_s: float) -> None:
        """Drop answers published more than `older_than_s` ago (in llm_calls by then) and
        claims lapsed as long."""
        with self._connection().cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {LIVE_TABLE} WHERE published_at < now() - make_interval(secs => %s)",
                (float(older_than_s),),
            )
            cursor.execute(
                f"DELETE FROM {CLAIMS_TABLE} WHERE expires_at < now() - make_interval(secs => %s)",
                (float(older_than_s),),
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            if not connection.closed:
                connection.close()


def instance_live_store(dagster_home: str | None = None) -> PostgresLiveStore | None:
    """The live store on the Dagster instance's PostgreSQL ($DAGSTER_HOME by default), or None
    when the instance is not on PostgreSQL (the SQLite store beside the DuckDB file serves)."""
    from mkailin_assets.instance_check import postgres_dsn_from_instance

    dsn = postgres_dsn_from_instance(dagster_home)
    return PostgresLiveStore(dsn) if dsn is not None else None
