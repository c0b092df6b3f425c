"""Structured output on the servers users run: how a schema reaches the server, and what works.

The cache key is the logical request (messages, schema, model, sampling, prompt version); the
mode only changes the wire body built here, so switching transport never re-buys an answer.

- json_schema: `response_format={"type": "json_schema", ...}` (OpenAI, vLLM, llama-server).
- json_object: `{"type": "json_object", "schema": ...}` plus the schema in the prompt
  (llama-cpp-python enforces it as a grammar; servers that ignore `schema` still see it).
- prompt: no response_format; the schema is in the prompt, the reply validated, one repair turn.

`auto` probes a (endpoint, model) once with the first real request, trying the modes in that
order, and records the first that answers with a JSON object of the right shape in
`llm_endpoints`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb

MODES = ("json_schema", "json_object", "prompt")
SCHEMA_MARKER = "JSON schema:"  # the fake server finds the schema after it, as a model would
# How servers refuse a response_format they do not support: llama-cpp-python answers 500 with a
# validation message naming the field, others 400 or 422. A plain 500 is a server fault, retried.
REFUSAL_STATUS = {400, 422, 500, 501}
_REFUSAL_WORDS = ("response_format", "json_schema", "json_object", "grammar", "guided")


def is_refusal(error: str | None) -> bool:
    """Whether a failed attempt says the server does not take this response_format."""
    if not error or not error.startswith("HTTP "):
        return False
    status = int(error[5:8]) if error[5:8].isdigit() else 0
    if status not in REFUSAL_STATUS:
        return False
    return status in (400, 422) or any(word in error for word in _REFUSAL_WORDS)


def schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "Reply with one JSON object and nothing else: no prose, no code fence. It must match "
        f"this {SCHEMA_MARKER}\n{json.dumps(schema, separators=(',', ':'))}"
    )


def wire_body(body: dict[str, Any], mode: str) -> dict[str, Any]:
    """The request as sent in `mode`; `body` holds the json_schema form (the logical request)."""
    fmt = body.get("response_format")
    if fmt is None or fmt.get("type") != "json_schema" or mode == "json_schema":
        return body
    schema = fmt["json_schema"]["schema"]
    wire = {key: value for key, value in body.items() if key != "response_format"}
    wire["messages"] = _with_instruction(body["messages"], schema_instruction(schema))
    if mode == "json_object":
        wire["response_format"] = {"type": "json_object", "schema": schema}
    return wire


def repair_messages(messages: list[dict[str, str]], content: str | None, error: str) -> list:
    """The one repair turn of prompt mode: the reply, what is wrong with it, a request to fix it."""
    return [
        *messages,
        {"role": "assistant", "content": content or ""},
        {
            "role": "user",
            "content": f"That reply was not usable: {error[:300]}. Reply again with only the"
            " corrected JSON object.",
        },
    ]


def has_shape(content: str | None, schema: dict[str, Any]) -> bool:
    """A JSON object carrying the schema's required keys: the mode reached the model (whether
    the values are good is validation's business, not the probe's)."""
    try:
        data = json.loads(content or "")
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and set(schema.get("required", [])) <= set(data)


def _with_instruction(messages: list[dict[str, str]], instruction: str) -> list[dict[str, str]]:
    out = [dict(message) for message in messages]
    for message in reversed(out):
        if message["role"] == "user":
            message["content"] = f"{message['content']}\n\n{instruction}"
            return out
    return [*out, {"role": "user", "content": instruction}]


def endpoint_id(base_url: str | None) -> str:
    """The base URL without user info (never a secret), or OpenAI's default."""
    if not base_url:
        return "openai-default"
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class ModeStore:
    """Probed modes and settled concurrency per (endpoint, model), from `llm_endpoints`.

    Read from DuckDB while the caller holds the file (`load`), kept in memory while calls are
    in flight (no DuckDB access then), and written back in the write phase (`flush`)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}
        self._pending: set[tuple[str, str]] = set()

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        cursor = con.cursor()
        try:
            rows = cursor.execute(
                "SELECT endpoint, model, mode, detail, concurrency FROM llm_endpoints"
            ).fetchall()
        finally:
            cursor.close()
        for endpoint, model, mode, detail, concurrency in rows:
            if (endpoint, model) not in self._pending:
                self._rows[(endpoint, model)] = {
                    "mode": mode,
                    "detail": detail,
                    "concurrency": concurrency,
                }

    def get(self, endpoint: str, model: str) -> str | None:
        row = self._rows.get((endpoint, model))
        return row["mode"] if row else None

    def concurrency(self, endpoint: str, model: str) -> int | None:
        row = self._rows.get((endpoint, model))
        return row.get("concurrency") if row else None

    def put(self, endpoint: str, model: str, mode: str, detail: str | None) -> None:
        row = self._rows.setdefault((endpoint, model), {"concurrency": None})
        row.update(mode=mode, detail=detail)
        self._pending.add((endpoint, model))

    def put_concurrency(self, endpoint: str, model: str, concurrency: int) -> None:
        row = self._rows.get((endpoint, model))
        if row is None or row.get("mode") is None:
            return  # recorded beside a mode only (a row needs one)
        row["concurrency"] = concurrency
        self._pending.add((endpoint, model))

    def export(self, pending_only: bool = False) -> list[list[Any]]:
        """[endpoint, model, mode, detail, concurrency] rows, to hand to another process."""
        return [
            [endpoint, model, row.get("mode"), row.get("detail"), row.get("concurrency")]
            for (endpoint, model), row in sorted(self._rows.items())
            if row.get("mode") and (not pending_only or (endpoint, model) in self._pending)
        ]

    def adopt(self, rows: list[list[Any]], pending: bool = True) -> None:
        """Rows `export` gave; `pending`: written to llm_endpoints at the next flush."""
        for endpoint, model, mode, detail, concurrency in rows:
            if not pending and (endpoint, model) in self._rows:
                continue  # what this process learned stands
            self._rows[(endpoint, model)] = {
                "mode": mode,
                "detail": detail,
                "concurrency": concurrency,
            }
            if pending:
                self._pending.add((endpoint, model))

    def flush(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self._pending:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        cursor = con.cursor()
        try:
            for endpoint, model in sorted(self._pending):
                row = self._rows[(endpoint, model)]
                cursor.execute(
                    "INSERT OR REPLACE INTO llm_endpoints"
                    " (endpoint, model, mode, detail, probed_at, concurrency)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [endpoint, model, row["mode"], row["detail"], now, row.get("concurrency")],
                )
        finally:
            cursor.close()
        self._pending.clear()

    def close(self) -> None:
        pass
