"""OpenAI Batch API mode: submit uncached chat requests as a batch, collect results into llm_calls.

Submission writes the JSONL (custom_id = cache key), uploads it, creates a batch on
/v1/chat/completions and records the batch and its items (`llm_batches`, `llm_batch_items`).
`poll_batches(config, con)` - the function a Dagster sensor calls - fetches finished batches'
output and error files, writes one llm_calls row per item exactly like the per-request path
(validated against the stored schema; via = 'batch'), and resubmits failed or expired items up
to `max_retries` times. A re-run of the asset then answers everything from the cache.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import jsonschema
import openai

from mkailin_assets.llm.cache import CallRecord, LLMCache, canonical_json
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.types import PreparedCall

CHAT_ENDPOINT = "/v1/chat/completions"
RUNNING = ("validating", "in_progress", "finalizing", "cancelling")


@dataclass
class BatchPollReport:
    collected: list[str] = field(default_factory=list)  # batches whose results were stored
    running: list[str] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)  # new batch ids
    rows_ok: int = 0
    rows_failed: int = 0

    @property
    def has_new_results(self) -> bool:
        return bool(self.collected)


def sync_openai(config: LLMConfig) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=config.api_key_value() or "not-needed",
        base_url=config.base_url,
        timeout=config.timeout_s,
        max_retries=config.max_retries,  # control-plane calls: the SDK's own retries suffice
    )


def submit_missing(
    cache: LLMCache, config: LLMConfig, calls: Sequence[PreparedCall]
) -> tuple[list[str], int]:
    """Submit the calls not already waiting in a batch; returns (batch ids involved, pending).

    The caller (the client) owns the cache the batch items are recorded in."""
    waiting = dict(
        cache.cursor.execute(
            "SELECT i.call_id, i.batch_id FROM llm_batch_items i JOIN llm_batches b USING (batch_id)"
            " WHERE b.status = 'submitted' AND i.call_id IN (SELECT unnest(?::VARCHAR[]))",
            [[call.key for call in calls]],
        ).fetchall()
    )
    batch_ids = sorted(set(waiting.values()))
    fresh = [call for call in calls if call.key not in waiting]
    if fresh:
        items = [_item_from_call(call) for call in fresh]
        with sync_openai(config) as api:
            batch_ids.append(_submit(api, cache, items))
    return batch_ids, len(calls)


def _item_from_call(call: PreparedCall) -> dict[str, Any]:
    fmt = call.body.get("response_format") or {}
    return {
        "call_id": call.key,
        "kind": call.kind,
        "role": call.role,
        "item_id": call.item_id,
        "model": call.model,
        "prompt_version": call.prompt_version,
        "request": call.body,
        "response_schema": (fmt.get("json_schema") or {}).get("schema"),
    }


def _submit(api: openai.OpenAI, cache: LLMCache, items: list[dict[str, Any]]) -> str:
    lines = [
        json.dumps(
            {
                "custom_id": item["call_id"],
                "method": "POST",
                "url": CHAT_ENDPOINT,
                "body": item["request"],
            }
        )
        for item in items
    ]
    payload = ("\n".join(lines) + "\n").encode()
    uploaded = api.files.create(file=("batch.jsonl", io.BytesIO(payload)), purpose="batch")
    batch = api.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT_ENDPOINT, completion_window="24h"
    )
    with cache.write_lock:
        cursor = cache.cursor
        cursor.execute("BEGIN TRANSACTION")
        try:
            cursor.execute(
                "INSERT INTO llm_batches (batch_id, input_file_id, status, server_status, items,"
                " created_at, updated_at) VALUES (?, ?, 'submitted', ?, ?, now(), now())",
                [batch.id, uploaded.id, batch.status, len(items)],
            )
            cursor.executemany(
                "INSERT INTO llm_batch_items (batch_id, call_id, kind, role, item_id, model,"
                " prompt_version, request, response_schema) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        batch.id,
                        item["call_id"],
                        item["kind"],
                        item["role"],
                        item["item_id"],
                        item["model"],
                        item["prompt_version"],
                        canonical_json(item["request"]),
                        None
                        if item["response_schema"] is None
                        else canonical_json(item["response_schema"]),
                    ]
                    for item in items
                ],
            )
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    return batch.id


def poll_batches(
    config: LLMConfig, con: duckdb.DuckDBPyConnection, logger: Any | None = None
) -> BatchPollReport:
    """Collect every finished batch into llm_calls and resubmit what failed; safe to repeat."""
    log = logger or logging.getLogger("mkailin.llm.batch")
    cache = LLMCache(con)
    report = BatchPollReport()
    open_batches = [
        row[0]
        for row in cache.cursor.execute(
            "SELECT batch_id FROM llm_batches WHERE status = 'submitted' ORDER BY created_at"
        ).fetchall()
    ]
    with sync_openai(config) as api:
        for batch_id in open_batches:
            batch = api.batches.retrieve(batch_id)
            if batch.status in RUNNING:
                report.running.append(batch_id)
                _set_batch(cache, batch_id, "submitted", batch)
                continue
            retry = _collect(api, cache, config, batch, report)
            _set_batch(cache, batch_id, "collected", batch)
            report.collected.append(batch_id)
            log.info(f"llm batch {batch_id} ({batch.status}) collected")
            if retry:
                report.resubmitted.append(_submit(api, cache, retry))
    return report


def _set_batch(cache: LLMCache, batch_id: str, status: str, batch: Any) -> None:
    with cache.write_lock:
        cache.cursor.execute(
            "UPDATE llm_batches SET status = ?, server_status = ?, output_file_id = ?,"
            " error_file_id = ?, updated_at = now() WHERE batch_id = ?",
            [status, batch.status, batch.output_file_id, batch.error_file_id, batch_id],
        )


def _jsonl(api: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if not file_id:
        return {}
    text = api.files.content(file_id).text
    rows = (json.loads(line) for line in text.splitlines() if line.strip())
    return {row["custom_id"]: row for row in rows}


def _collect(
    api: openai.OpenAI,
    cache: LLMCache,
    config: LLMConfig,
    batch: Any,
    report: BatchPollReport,
) -> list[dict[str, Any]]:
    """Store one llm_calls row per item; returns the items to resubmit."""
    outputs = _jsonl(api, batch.output_file_id)
    errors = _jsonl(api, batch.error_file_id)
    items = _batch_items(cache, batch.id)
    already_ok = cache.lookup_final([item["call_id"] for item in items], with_rejected=False)
    retry = []
    for item in items:
        if item["call_id"] in already_ok:
            continue
        record = _record_for(
            item, outputs.get(item["call_id"]), errors.get(item["call_id"]), batch, config
        )
        cache.write(record)
        if record.ok:
            report.rows_ok += 1
            continue
        report.rows_failed += 1
        if item["submissions"] <= config.max_retries:
            retry.append(item)
    return retry


def _batch_items(cache: LLMCache, batch_id: str) -> list[dict[str, Any]]:
    rows = cache.cursor.execute(
        "SELECT i.call_id, i.kind, i.role, i.item_id, i.model, i.prompt_version, i.request,"
        " i.response_schema,"
        " (SELECT count(*) FROM llm_batch_items j WHERE j.call_id = i.call_id) AS submissions"
        " FROM llm_batch_items i WHERE i.batch_id = ? ORDER BY i.call_id",
        [batch_id],
    ).fetchall()
    names = ("call_id", "kind", "role", "item_id", "model", "prompt_version", "request",
             "response_schema", "submissions")  # fmt: skip
    items = [dict(zip(names, row, strict=True)) for row in rows]
    for item in items:
        item["request"] = json.loads(item["request"])
        item["response_schema"] = (
            json.loads(item["response_schema"]) if item["response_schema"] else None
        )
    return items


def _record_for(
    item: dict[str, Any],
    output: dict[str, Any] | None,
    error: dict[str, Any] | None,
    batch: Any,
    config: LLMConfig,
) -> CallRecord:
    record = CallRecord(
        call_id=item["call_id"],
        kind=item["kind"],
        role=item["role"],
        item_id=item["item_id"],
        model=item["model"],
        prompt_version=item["prompt_version"],
        request=item["request"],
        status="failed",
        attempts=item["submissions"],
        via="batch",
        batch_id=batch.id,
    )
    prefix = (
        f"item {item['item_id']!r} role {item['role']!r} model {item['model']!r} (batch {batch.id})"
    )
    response = (output or {}).get("response") or {}
    if response.get("status_code") != 200:
        cause = (error or output or {}).get("error") or (
            f"HTTP {response['status_code']}"
            if response
            else f"not processed (batch {batch.status})"
        )
        record.error = f"{prefix}: {cause}"
        return record
    body = response["body"]
    usage = body.get("usage") or {}
    record.prompt_tokens = usage.get("prompt_tokens") or 0
    record.completion_tokens = usage.get("completion_tokens") or 0
    record.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    record.cost_usd = config.batch_discount * config.cost_usd(
        item["model"], record.prompt_tokens, record.completion_tokens
    )
    choice = (body.get("choices") or [{}])[0]
    record.response_content = (choice.get("message") or {}).get("content")
    record.finish_reason = choice.get("finish_reason")
    data, invalid = _validate(
        record.response_content, record.finish_reason, item["response_schema"]
    )
    if invalid is None:
        record.status, record.response_json = "ok", data
    else:
        record.error = f"{prefix}: {invalid}"
    return record


def _validate(
    content: str | None, finish_reason: str | None, schema: dict[str, Any] | None
) -> tuple[Any, str | None]:
    """The batch twin of client.validate_content, against the stored JSON schema."""
    if finish_reason == "length":
        return None, "truncated output (finish_reason=length)"
    if content is None:
        return None, "empty response content"
    if schema is None:
        return None, None
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        return None, f"invalid JSON: {error}"
    problem = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(data)
    )
    if problem is not None:
        return data, f"schema violation: {problem.message}"
    return data, None
