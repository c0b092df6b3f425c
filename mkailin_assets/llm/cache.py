"""The response cache in DuckDB (`llm_calls`): keys, lookups and one-row-at-a-time durable writes.

The cache writes through its own cursor (a separate DuckDB connection to the same database), in
autocommit mode: each row is committed as it arrives, so a crash loses nothing already paid
for, even while the caller holds an open transaction on its own connection.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from mkailin_assets.resources.duckdb_store import apply_schema

_COLUMNS = (
    "call_id",
    "kind",
    "role",
    "item_id",
    "model",
    "prompt_version",
    "request",
    "response_content",
    "response_json",
    "embedding",
    "status",
    "error",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_usd",
    "latency_ms",
    "attempts",
    "via",
    "batch_id",
    "created_at",
)


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, so equal requests hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def call_key(
    kind: str,
    model: str,
    params: dict[str, Any],
    messages: Any,
    response_schema: dict[str, Any] | None,
    prompt_version: str,
    extra: dict[str, Any] | None = None,
) -> str:
    """sha256 over everything that changes the answer (never the key or the endpoint URL)."""
    payload = {
        "kind": kind,
        "model": model,
        "params": params,
        "messages": messages,
        "response_schema": response_schema,
        "prompt_version": prompt_version,
    }
    if extra:
        payload["extra"] = extra
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


@dataclass
class CallRecord:
    """One llm_calls row; the request and the batch path build the same record."""

    call_id: str
    kind: str
    role: str
    item_id: str | None
    model: str
    prompt_version: str
    request: dict[str, Any]
    status: str  # ok | failed
    response_content: str | None = None
    response_json: Any = None
    embedding: list[float] | None = None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    attempts: int = 0
    via: str = "request"
    batch_id: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def row(self) -> list[Any]:
        values = asdict(self)
        values["request"] = canonical_json(self.request)
        values["response_json"] = (
            None if self.response_json is None else canonical_json(self.response_json)
        )
        return [values[column] for column in _COLUMNS]


class LLMCache:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._reader = con.cursor()
        self._writer = con.cursor()
        self._write_lock = threading.Lock()
        if not self._has_table():
            apply_schema(self._writer)

    def _has_table(self) -> bool:
        row = self._reader.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'llm_calls'"
        ).fetchone()
        return bool(row and row[0])

    def lookup_ok(self, call_ids: list[str]) -> dict[str, CallRecord]:
        """Cached successful rows among `call_ids` (one set-based query)."""
        if not call_ids:
            return {}
        rows = self._reader.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM llm_calls"
            " WHERE status = 'ok' AND call_id IN (SELECT unnest(?::VARCHAR[]))",
            [call_ids],
        ).fetchall()
        return {row[0]: _record_from_row(row) for row in rows}

    def write(self, record: CallRecord) -> None:
        """Insert or replace one row, committed at once (autocommit on the writer cursor)."""
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._write_lock:
            self._writer.execute(
                f"INSERT OR REPLACE INTO llm_calls ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                record.row(),
            )

    def write_many(self, records: list[CallRecord]) -> None:
        """Free rows (offline, cache-rebuilt) in one transaction: nothing paid is at stake."""
        if not records:
            return
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._write_lock:
            self._writer.execute("BEGIN TRANSACTION")
            try:
                self._writer.executemany(
                    f"INSERT OR REPLACE INTO llm_calls ({', '.join(_COLUMNS)})"
                    f" VALUES ({placeholders})",
                    [record.row() for record in records],
                )
                self._writer.execute("COMMIT")
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise

    @property
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """The writer cursor, for the batch ledger (same durability rules)."""
        return self._writer

    @property
    def write_lock(self) -> threading.Lock:
        return self._write_lock


def _record_from_row(row: tuple[Any, ...]) -> CallRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["request"] = json.loads(values["request"]) if values["request"] else {}
    if values["response_json"] is not None:
        values["response_json"] = json.loads(values["response_json"])
    return CallRecord(**values)
