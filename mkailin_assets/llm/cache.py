"""The response cache in DuckDB (`llm_calls`): keys, lookups and one-row-at-a-time durable writes.

The cache writes through its own cursor (a separate DuckDB connection to the same database), so
its commits do not depend on a transaction the caller holds open. Answers reach it from spools
(llm/spool.py): durable on disk first, brought into llm_calls in a run's write phase.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from mkailin_assets.db import apply_schema, transaction

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

_REQUEST, _RESPONSE_JSON = _COLUMNS.index("request"), _COLUMNS.index("response_json")
_COLUMN_LIST = ", ".join(_COLUMNS)
_INSERT_SQL = f"INSERT INTO llm_calls ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM _llm_rows"
_REPLACE_SQL = (
    f"INSERT OR REPLACE INTO llm_calls ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM _llm_rows"
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
    # ok | failed (transport: sent again next run) | rejected (the model answered, the answer
    # was unusable after its retries: final, served from the cache like an answer)
    status: str
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
    # The validated response model, kept so results need not validate twice (not stored).
    parsed: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def row(self) -> list[Any]:
        """The row in `_COLUMNS` order, JSON columns serialized (no deep copy of the request)."""
        values = [getattr(self, column) for column in _COLUMNS]
        values[_REQUEST] = canonical_json(self.request)
        if self.response_json is not None:
            values[_RESPONSE_JSON] = canonical_json(self.response_json)
        return values


class LLMCache:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._reader = con.cursor()
        self._writer = con.cursor()
        self._write_lock = threading.Lock()
        if not self._has_table():
            # A throwaway cursor: DuckDB 2.0 leaves a fetchone() result open, which makes a
            # later register() on the same connection fail.
            schema_cursor = con.cursor()
            apply_schema(schema_cursor)
            schema_cursor.close()

    def _has_table(self) -> bool:
        rows = self._reader.execute(
            "SELECT count(*) FROM duckdb_tables()"
            " WHERE table_name IN ('llm_calls', 'llm_endpoints')"
        ).fetchall()
        return rows[0][0] == 2

    def lookup_final(
        self, call_ids: list[str], with_rejected: bool = True
    ) -> dict[str, CallRecord]:
        """Cached rows among `call_ids` that need no new request: answers, and (unless asked
        to resend them) rejections (one set-based query)."""
        if not call_ids:
            return {}
        statuses = ["ok", "rejected"] if with_rejected else ["ok"]
        rows = self._reader.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM llm_calls"
            " WHERE status IN (SELECT unnest(?::VARCHAR[]))"
            " AND call_id IN (SELECT unnest(?::VARCHAR[]))",
            [statuses, call_ids],
        ).fetchall()
        return {row[0]: _record_from_row(row) for row in rows}

    def write(self, record: CallRecord) -> None:
        """Insert or replace one row, committed at once."""
        self.write_many([record])

    def write_many(self, records: list[CallRecord]) -> None:
        """Insert or replace rows in one transaction (an Arrow frame, by replacement scan).

        Almost every row is new, and a plain INSERT costs a third of INSERT OR REPLACE on this
        wide table; a batch that meets an existing key (a failed row now answered) is rolled
        back and written again with OR REPLACE."""
        if not records:
            return
        latest = {record.call_id: record for record in records}  # one row per key
        frame = _arrow_rows(list(latest.values()))
        with self._write_lock:
            self._writer.register("_llm_rows", frame)
            try:
                try:
                    self._insert_rows(_INSERT_SQL)
                except duckdb.ConstraintException:
                    self._insert_rows(_REPLACE_SQL)
            finally:
                self._writer.unregister("_llm_rows")

    def import_records(self, records: list[CallRecord]) -> int:
        """Rows from spools: inserted or replaced, except that a failure never replaces a final
        answer already recorded (an orphaned spool may be older than the row). Returns rows
        written."""
        if not records:
            return 0
        latest: dict[str, CallRecord] = {}
        for record in records:  # a final answer wins over a failure of the same call
            kept = latest.get(record.call_id)
            if kept is None or record.status != "failed" or kept.status == "failed":
                latest[record.call_id] = record
        failed = [key for key, record in latest.items() if record.status == "failed"]
        if failed:
            answered = {
                row[0]
                for row in self._reader.execute(
                    "SELECT call_id FROM llm_calls WHERE status <> 'failed'"
                    " AND call_id IN (SELECT unnest(?::VARCHAR[]))",
                    [failed],
                ).fetchall()
            }
            latest = {k: r for k, r in latest.items() if k not in answered}
        self.write_many(list(latest.values()))
        return len(latest)

    def _insert_rows(self, statement: str) -> None:
        with transaction(self._writer):
            self._writer.execute(statement)

    def close(self) -> None:
        with self._write_lock:
            self._reader.close()
            self._writer.close()

    @property
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """The writer cursor, for the batch ledger (same durability rules)."""
        return self._writer

    @property
    def write_lock(self) -> threading.Lock:
        return self._write_lock


_ARROW_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("kind", pa.string()),
        ("role", pa.string()),
        ("item_id", pa.string()),
        ("model", pa.string()),
        ("prompt_version", pa.string()),
        ("request", pa.string()),
        ("response_content", pa.string()),
        ("response_json", pa.string()),
        ("embedding", pa.list_(pa.float32())),
        ("status", pa.string()),
        ("error", pa.string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int32()),
        ("completion_tokens", pa.int32()),
        ("cached_tokens", pa.int32()),
        ("cost_usd", pa.float64()),
        ("latency_ms", pa.float64()),
        ("attempts", pa.int32()),
        ("via", pa.string()),
        ("batch_id", pa.string()),
        ("created_at", pa.timestamp("us")),
    ]
)


def _arrow_rows(records: list[CallRecord]) -> pa.Table:
    columns = list(zip(*(record.row() for record in records), strict=True))
    return pa.Table.from_arrays(
        [
            pa.array(values, type=kind)
            for values, kind in zip(columns, _ARROW_SCHEMA.types, strict=True)
        ],
        schema=_ARROW_SCHEMA,
    )


def record_to_json(record: CallRecord) -> dict[str, Any]:
    """The record as one JSON object (spool lines, the live store)."""
    values = {column: getattr(record, column) for column in _COLUMNS}
    values["created_at"] = record.created_at.isoformat()
    return values


def record_from_json(values: dict[str, Any]) -> CallRecord:
    known = {column: values.get(column) for column in _COLUMNS if column in values}
    created = known.get("created_at")
    known["created_at"] = (
        datetime.fromisoformat(created) if isinstance(created, str) else datetime.now()
    )
    if known.get("request") is None:
        known["request"] = {}
    for column in ("prompt_tokens", "completion_tokens", "cached_tokens", "attempts"):
        known[column] = int(known.get(column) or 0)
    known["cost_usd"] = float(known.get("cost_usd") or 0.0)
    return CallRecord(**known)


def _record_from_row(row: tuple[Any, ...]) -> CallRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["request"] = json.loads(values["request"]) if values["request"] else {}
    if values["response_json"] is not None:
        values["response_json"] = json.loads(values["response_json"])
    return CallRecord(**values)
