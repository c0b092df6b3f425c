"""The one LLM client every agent uses: cached, concurrent, retried, validated, accounted.

    client = LLMClient(LLMConfig.from_env(), con, logger=context.log)
    results = client.run(requests)           # list[LLMResult], in request order
    vectors = client.embed(texts, item_ids)  # list[list[float] | None]
    context.add_output_metadata(client.accounting())

Flow per request: cache key -> cached ok row? (answer from DuckDB, nothing sent) -> the
backend (llm/backends.py: offline, an OpenAI-compatible server, or the local model), or a Batch
API submission -> validated -> one llm_calls row, committed at once. HTTP calls go through
AsyncOpenAI under an adaptive concurrency limit with our own retries, in the structured-output
mode that works for the server (llm/structured.py), bounded by per-role max_tokens and a
timeout that follows it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import duckdb
import openai
from pydantic import BaseModel, ValidationError

from mkailin_assets.llm import structured
from mkailin_assets.llm.accounting import Accounting, Budget, BudgetExhausted
from mkailin_assets.llm.backends import Backend, OpenAIBackend, make_backend
from mkailin_assets.llm.cache import CacheWriter, CallRecord, LLMCache, call_key
from mkailin_assets.llm.concurrency import AdaptiveLimiter, backoff_seconds, retry_after_seconds
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.types import LLMRequest, LLMResult, PreparedCall

T = TypeVar("T")
EMBEDDING_CHUNK = 128  # inputs per embeddings request
_RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
_PRESSURE_STATUS = {429, 503}


class LLMFailureRateExceeded(RuntimeError):
    """More items failed than `max_failure_rate` allows; every result was recorded first."""

    def __init__(self, message: str, results: list[LLMResult]) -> None:
        super().__init__(message)
        self.results = results


class BatchPending(RuntimeError):
    """Batch API mode: uncached requests were submitted (or are still running) as batches.

    Re-run after `poll_batches` has collected them; cached items are then answered at once."""

    def __init__(self, message: str, batch_ids: list[str], pending: int) -> None:
        super().__init__(message)
        self.batch_ids = batch_ids
        self.pending = pending


@functools.cache
def response_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict JSON schema OpenAI's structured outputs require (the SDK's own converter).

    Computed once per model class: building it costs ~0.8 ms, per request that was a tenth of the
    client's time. Callers must treat the returned dict as read-only."""
    try:
        from openai.lib._pydantic import to_strict_json_schema

        return to_strict_json_schema(model)
    except ImportError:  # pragma: no cover - older SDKs
        return model.model_json_schema()


def prepare_chat(
    request: LLMRequest, config: LLMConfig, backend: Backend | None = None
) -> PreparedCall:
    """The logical request: what is cached and recorded, whatever mode carries it on the wire."""
    backend = backend or make_backend(config)
    model = backend.model_for(request.role)
    offline = config.backend == "offline"
    sampling = {} if offline else config.role_settings(request.role).sampling()
    body: dict[str, Any] = {"model": model, "messages": request.messages, **sampling}
    schema = response_schema(request.response_model) if request.response_model else None
    if schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.response_model.__name__,
                "schema": schema,
                "strict": True,
            },
        }
    key = call_key(
        "chat",
        model,
        sampling,
        request.messages,
        schema,
        request.prompt_version,
        backend.key_extra(request),
    )
    return PreparedCall(
        key=key,
        kind="chat",
        role=request.role,
        item_id=request.item_id,
        model=model,
        prompt_version=request.prompt_version,
        body=body,
        response_model=request.response_model,
        request=request,
    )


def validate_content(
    content: str | None, finish_reason: str | None, response_model: type[BaseModel] | None
) -> tuple[BaseModel | None, Any, str | None]:
    """(parsed model, parsed JSON, error); error is None when the content is usable."""
    if finish_reason == "length":
        return None, None, "truncated output (finish_reason=length)"
    if content is None:
        return None, None, "empty response content"
    if response_model is None:
        return None, None, None
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        return None, None, f"invalid JSON: {error}"
    try:
        return response_model.model_validate(data), data, None
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:3]
        )
        return None, data, f"schema violation ({response_model.__name__}): {details}"


class LLMClient:
    def __init__(
        self,
        config: LLMConfig,
        con: duckdb.DuckDBPyConnection,
        logger: Any | None = None,
    ) -> None:
        self.config = config
        self._log = logger or logging.getLogger("mkailin.llm")
        self._cache = LLMCache(con)
        self._accounting = Accounting()
        self._budget = Budget(config.budget_tokens, config.budget_usd)
        self._rng = random.Random()
        self._secret = config.api_key_value()
        self.backend = make_backend(config)
        self._modes = structured.ModeStore(con.cursor())
        self.modes_used: dict[str, str] = {}  # model -> structured-output mode, for metadata
        self.max_in_flight = 0  # highest concurrency reached, for tests and benchmarks
        self._completion_estimate = 256
        self.truncated = 0  # responses cut at max_tokens (finish_reason=length)
        self.timeouts = 0
        self.rejections_cached = 0  # final rejections of earlier runs, answered from the cache

    # ---- public API ----------------------------------------------------------------------
    def run(self, requests: list[LLMRequest]) -> list[LLMResult]:
        """Answer every request (cache first), results in request order."""
        return _run_sync(lambda: self.arun(requests))

    async def arun(self, requests: list[LLMRequest]) -> list[LLMResult]:
        prepared = [prepare_chat(request, self.config, self.backend) for request in requests]
        with self._accounting.timed():
            records, cached = await self._resolve(prepared)
        results = [self._result(call, records.get(call.key), cached) for call in prepared]
        self._check_outcome(results, requests)
        return results

    def embed(self, texts: list[str], item_ids: list[str]) -> list[list[float] | None]:
        return _run_sync(lambda: self.aembed(texts, item_ids))

    async def aembed(self, texts: list[str], item_ids: list[str]) -> list[list[float] | None]:
        if len(texts) != len(item_ids):
            raise ValueError("embed: texts and item_ids differ in length")
        model = self.backend.model_for("embeddings")
        calls = [
            PreparedCall(
                key=call_key("embeddings", model, {}, text, None, "embeddings-v1"),
                kind="embeddings",
                role="embeddings",
                item_id=item_id,
                model=model,
                prompt_version="embeddings-v1",
                body={"model": model, "input": text},
            )
            for text, item_id in zip(texts, item_ids, strict=True)
        ]
        with self._accounting.timed():
            records, _ = await self._resolve(calls)
        vectors = []
        for call in calls:
            record = records.get(call.key)
            vectors.append(list(record.embedding) if record and record.ok else None)
        self._check_outcome_embeddings(calls, records)
        return vectors

    def close(self) -> None:
        """Close the client's own DuckDB cursors (the caller's connection stays open)."""
        self.backend.close()
        self._modes.close()
        self._cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def accounting(self) -> dict[str, Any]:
        metadata = self._accounting.metadata(self._budget)
        metadata["llm.max_in_flight"] = self.max_in_flight
        metadata["llm.backend"] = self.config.backend
        metadata["llm.truncated"] = self.truncated
        metadata["llm.timeouts"] = self.timeouts
        metadata["llm.rejections_cached"] = self.rejections_cached
        if self.modes_used:
            metadata["llm.structured_output"] = ", ".join(
                f"{model}: {mode}" for model, mode in sorted(self.modes_used.items())
            )
        return metadata

    # ---- resolution: cache, then one path per backend -----------------------------------
    async def _resolve(self, calls: list[PreparedCall]) -> tuple[dict[str, CallRecord], set[str]]:
        """Records by cache key, and the keys answered from the cache."""
        unique = {call.key: call for call in calls}  # identical requests are sent once
        records = self._cached(unique)
        cached = set(records)
        missing = [call for key, call in unique.items() if key not in records]
        if not missing:
            return records, cached
        if self.config.batch_mode and self.backend.name == "openai" and missing[0].kind == "chat":
            from mkailin_assets.llm import batch

            batch_ids, pending = batch.submit_missing(self._cache, self.config, missing)
            raise BatchPending(
                f"{pending} request(s) are in OpenAI batches {batch_ids}; run poll_batches()"
                " and re-run to collect them",
                batch_ids,
                pending,
            )
        else:
            records.update(await self.backend.complete(self, missing))
        return records, cached

    def _cached(self, unique: dict[str, PreparedCall]) -> dict[str, CallRecord]:
        found = self._cache.lookup_final(list(unique), not self.config.resend_rejected)
        usable: dict[str, CallRecord] = {}
        for key, record in found.items():
            call = unique[key]
            if record.status == "rejected":
                self.rejections_cached += 1
            elif call.kind == "chat" and call.response_model is not None:
                record.parsed, _, error = validate_content(
                    record.response_content, record.finish_reason, call.response_model
                )
                if error is not None:  # e.g. a batch row that pydantic rejects: send again
                    continue
            usable[key] = record
        self._accounting.cache_hits += len(usable)
        return usable

    # ---- what backends use ----------------------------------------------------------------
    def new_record(self, call: PreparedCall, via: str) -> CallRecord:
        return self._new_record(call, via)

    def record_failure(self, message: str) -> None:
        self._accounting.failures += 1
        self._log.warning(message)

    def record_offline(self, model: str) -> None:
        self._accounting.offline_calls += 1
        self._accounting.items_completed += 1
        self._accounting.record_usage(model, 0, 0, 0, 0.0)

    def write_records(self, records: list[CallRecord]) -> None:
        self._cache.write_many(records)

    # ---- the HTTP path -------------------------------------------------------------------
    async def send_http(
        self, calls: list[PreparedCall], backend: OpenAIBackend
    ) -> dict[str, CallRecord]:
        """Send uncached calls to an OpenAI-compatible server; chat calls in the structured
        mode that works there (probed with the first call of each model when unknown)."""
        limiter = AdaptiveLimiter(
            backend.max_concurrency(), cooldown_s=self.config.pressure_cooldown_s
        )
        writer = CacheWriter(self._cache, expected=len(calls))
        api = self._openai(backend.base_url())
        try:
            if calls[0].kind == "embeddings":
                chunks = [
                    calls[i : i + EMBEDDING_CHUNK] for i in range(0, len(calls), EMBEDDING_CHUNK)
                ]
                jobs = [self._embed_chunk(api, limiter, writer, chunk) for chunk in chunks]
                outcomes = await asyncio.gather(*jobs)
                records = {r.call_id: r for chunk in outcomes for r in chunk}
            else:
                records, rest = await self._probe_modes(api, limiter, writer, calls, backend)
                jobs = [self._send_one(api, limiter, writer, call, mode) for call, mode in rest]
                outcomes = await asyncio.gather(*jobs)
                records.update({r.call_id: r for r in outcomes if r is not None})
        finally:
            self.max_in_flight = max(self.max_in_flight, limiter.max_in_flight)
            await api.close()
            writer.close()
        return records

    def _openai(self, base_url: str | None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self._secret or "not-needed",  # local servers accept any key
            base_url=base_url,
            timeout=self.config.timeout_s,
            max_retries=0,  # we retry ourselves: Retry-After, AIMD, per-item failures
        )

    async def _probe_modes(
        self,
        api: openai.AsyncOpenAI,
        limiter: AdaptiveLimiter,
        writer: CacheWriter,
        calls: list[PreparedCall],
        backend: OpenAIBackend,
    ) -> tuple[dict[str, CallRecord], list[tuple[PreparedCall, str]]]:
        """Settle each call's mode: forced per role, recorded for (endpoint, model), or probed
        now with the first call of that model (its answer is kept). Returns the probed calls'
        records and the remaining calls with their modes."""
        endpoint = backend.endpoint()
        known: dict[str, str] = {}
        records: dict[str, CallRecord] = {}
        rest: list[tuple[PreparedCall, str]] = []
        for call in calls:
            forced = self.config.structured_mode_for(call.role)
            if call.response_model is None:
                rest.append((call, "json_schema"))  # no schema: the body has no response_format
                continue
            if forced != "auto":
                self.modes_used[call.model] = forced
                rest.append((call, forced))
                continue
            if call.model not in known:
                mode = self._modes.get(endpoint, call.model)
                if mode is None:
                    record, mode = await self._probe(api, limiter, writer, call, endpoint)
                    if record is not None:
                        records[record.call_id] = record
                    known[call.model] = mode
                    self.modes_used[call.model] = mode
                    continue
                known[call.model] = mode
                self.modes_used[call.model] = mode
            rest.append((call, known[call.model]))
        return records, rest

    async def _probe(
        self,
        api: openai.AsyncOpenAI,
        limiter: AdaptiveLimiter,
        writer: CacheWriter,
        call: PreparedCall,
        endpoint: str,
    ) -> tuple[CallRecord | None, str]:
        """Try the modes in order with one real call; the first that yields a JSON object of
        the schema's shape is recorded for (endpoint, model) and finishes the call."""
        refused: list[str] = []
        schema = call.body["response_format"]["json_schema"]["schema"]
        for mode in structured.MODES:
            wire = structured.wire_body(call.body, mode)
            for _ in range(2):  # a shapeless reply is asked again once: it may be the model's slip
                outcome = await self._attempt(api, limiter, call, self._sender(api, wire), 0)
                if outcome is None:
                    return None, mode
                response, error, _ = outcome
                if response is None:
                    if structured.is_refusal(error):
                        refused.append(f"{mode}: {error}")
                        break
                    # Not an answer about the mode (timeout, 429): send normally in this mode.
                    # A timeout means the server took the format and is generating: keep it.
                    if error and error.startswith("APITimeoutError"):
                        refused.append(f"{mode}: accepted, the probe's answer timed out")
                        self._modes.put(endpoint, call.model, mode, "; ".join(refused)[:1000])
                    return await self._send_one(api, limiter, writer, call, mode), mode
                choice = response.choices[0] if response.choices else None
                content = choice.message.content if choice else None
                cut = choice is not None and choice.finish_reason == "length"
                if mode == "prompt" or cut or structured.has_shape(content, schema):
                    detail = "; ".join(refused)[:1000] or None
                    self._modes.put(
                        endpoint, call.model, mode, self._redact(detail) if detail else None
                    )
                    self._log.info(
                        f"llm structured output for {call.model!r} at {endpoint}: {mode}"
                    )
                    first = outcome
                    return await self._send_one(api, limiter, writer, call, mode, first), mode
                refused.append(f"{mode}: reply was not a JSON object of the schema's shape")
        raise AssertionError("prompt mode always ends the probe")  # pragma: no cover

    def _sender(self, api: openai.AsyncOpenAI, wire: dict[str, Any]) -> Callable[[], Awaitable]:
        timeout = self.config.request_timeout_s(wire.get("max_tokens"))
        return lambda: api.chat.completions.create(**wire, timeout=timeout)

    async def _send_one(
        self,
        api: openai.AsyncOpenAI,
        limiter: AdaptiveLimiter,
        writer: CacheWriter,
        call: PreparedCall,
        mode: str = "json_schema",
        first: tuple[Any, str | None, float | None] | None = None,
    ) -> CallRecord | None:
        """One item to its end: transport retries, one retry after a truncation, at most one
        resend after a timeout, schema retries (prompt mode: one repair turn)."""
        record = self._new_record(call, via="request")
        started = time.perf_counter()
        wire = structured.wire_body(call.body, mode)
        transport_failures = schema_failures = truncations = timeouts = 0
        while True:
            outcome = first or await self._attempt(
                api, limiter, call, self._sender(api, wire), transport_failures
            )
            first = None
            if outcome is None:  # budget stop before sending: nothing recorded
                return None
            response, error, retry_in = outcome
            record.attempts += 1
            if response is None:
                transport_failures += 1
                if error and error.startswith("APITimeoutError"):
                    timeouts += 1
                    self.timeouts += 1
                    if timeouts >= 2:  # the same request at the same size: it would time out again
                        record.error = self._cause(call, error, record.attempts)
                        break
                if retry_in is not None and transport_failures <= self.config.max_retries:
                    self._accounting.retries += 1
                    self._log.debug(f"llm retry {call.item_id!r} in {retry_in:.2f}s: {error}")
                    await asyncio.sleep(retry_in)
                    continue
                record.error = self._cause(call, error, record.attempts)
                break
            self._take_usage(record, call, response)
            choice = response.choices[0] if response.choices else None
            record.response_content = choice.message.content if choice else None
            record.finish_reason = choice.finish_reason if choice else None
            parsed, data, invalid = validate_content(
                record.response_content, record.finish_reason, call.response_model
            )
            if invalid is None:
                record.status, record.response_json, record.error = "ok", data, None
                record.parsed = parsed
                break
            if record.finish_reason == "length":
                truncations += 1
                self.truncated += 1
                if truncations > 1:
                    limit = call.body.get("max_tokens")
                    record.error = self._cause(
                        call, f"{invalid} at max_tokens={limit}", record.attempts
                    )
                    record.status = "rejected"
                    break
                continue
            schema_failures += 1
            limit = 1 if mode == "prompt" else self.config.max_schema_retries
            if schema_failures > limit:
                record.error = self._cause(call, invalid, record.attempts)
                record.status = "rejected"
                break
            self._accounting.schema_retries += 1
            if mode == "prompt":
                wire = {
                    **wire,
                    "messages": structured.repair_messages(
                        structured.wire_body(call.body, mode)["messages"],
                        record.response_content,
                        invalid,
                    ),
                }
        record.latency_ms = (time.perf_counter() - started) * 1000
        await self._finish(record, writer)
        return record

    async def _embed_chunk(
        self,
        api: openai.AsyncOpenAI,
        limiter: AdaptiveLimiter,
        writer: CacheWriter,
        chunk: list[PreparedCall],
    ) -> list[CallRecord]:
        model = chunk[0].model
        texts = [call.body["input"] for call in chunk]
        started = time.perf_counter()
        attempts = 0
        transport_failures = 0
        while True:
            outcome = await self._attempt(
                api,
                limiter,
                chunk[0],
                lambda: api.embeddings.create(model=model, input=texts),
                transport_failures,
            )
            if outcome is None:
                return []
            response, error, retry_in = outcome
            attempts += 1
            if response is not None or retry_in is None:
                break
            transport_failures += 1
            if transport_failures > self.config.max_retries:
                break
            self._accounting.retries += 1
            await asyncio.sleep(retry_in)
        latency = (time.perf_counter() - started) * 1000
        records = []
        prompt_tokens = response.usage.prompt_tokens if response and response.usage else 0
        cost = self.config.cost_usd(model, prompt_tokens, 0)
        if response is not None:
            self._accounting.record_usage(model, prompt_tokens, 0, 0, cost)
        by_index = {d.index: d.embedding for d in response.data} if response is not None else {}
        for index, call in enumerate(chunk):
            record = self._new_record(call, via="request")
            record.attempts, record.latency_ms = attempts, latency
            if index in by_index:
                record.status, record.embedding = "ok", list(by_index[index])
                # Tokens and cost of the shared request are attributed once, to its first item.
                if index == 0:
                    record.prompt_tokens, record.cost_usd = prompt_tokens, cost
            else:
                record.error = self._cause(call, error or "no embedding returned", attempts)
            await self._finish(record, writer)
            records.append(record)
        return records

    async def _attempt(
        self,
        api: openai.AsyncOpenAI,
        limiter: AdaptiveLimiter,
        call: PreparedCall,
        send: Callable[[], Awaitable[Any]],
        failures_so_far: int,
    ) -> tuple[Any, str | None, float | None] | None:
        """One HTTP attempt under the limiter and the budget.

        Returns (response, None, None) on success, (None, cause, retry delay or None when the
        error is final), or None when the budget forbids sending."""
        async with limiter.slot() as epoch:
            estimate_tokens, estimate_usd = self._estimate(call)
            if not self._budget.try_reserve(estimate_tokens, estimate_usd):
                return None
            self._accounting.requests_sent += 1
            sent_at = time.perf_counter()
            try:
                response = await send()
            except openai.APIStatusError as error:
                self._budget.settle(estimate_tokens, estimate_usd, 0, 0.0)
                if error.status_code in _PRESSURE_STATUS:
                    limiter.on_pressure(epoch)
                retryable = error.status_code in _RETRYABLE_STATUS
                delay = (
                    self._retry_delay(error.response.headers, failures_so_far)
                    if retryable
                    else None
                )
                return None, f"HTTP {error.status_code}: {error.message}", delay
            except openai.APIConnectionError as error:  # timeouts included
                self._budget.settle(estimate_tokens, estimate_usd, 0, 0.0)
                return (
                    None,
                    f"{type(error).__name__}: {error}",
                    self._retry_delay(None, failures_so_far),
                )
            self._accounting.latencies_ms.append((time.perf_counter() - sent_at) * 1000)
            self._budget.settle(estimate_tokens, estimate_usd, *self._spent(call, response))
            await limiter.on_success()
            return response, None, None

    # ---- helpers -------------------------------------------------------------------------
    def _retry_delay(self, headers: Any, failures_so_far: int) -> float:
        asked = retry_after_seconds(headers)
        if asked is not None:
            return asked + self._rng.uniform(0, 0.05 + asked * 0.1)  # spread the herd
        return backoff_seconds(
            failures_so_far,
            self.config.retry_base_delay_s,
            self.config.retry_max_delay_s,
            self._rng,
        )

    def _estimate(self, call: PreparedCall) -> tuple[int, float]:
        if not self._budget.limited:
            return 0, 0.0
        text = json.dumps(call.body.get("messages") or call.body.get("input"))
        prompt = len(text) // 4 + 1
        completion = (
            0
            if call.kind == "embeddings"
            else (call.body.get("max_tokens") or self._completion_estimate)
        )
        return prompt + completion, self.config.cost_usd(call.model, prompt, completion)

    def _spent(self, call: PreparedCall, response: Any) -> tuple[int, float]:
        usage = getattr(response, "usage", None)
        if usage is None:
            return 0, 0.0
        prompt = usage.prompt_tokens or 0
        completion = getattr(usage, "completion_tokens", 0) or 0
        if completion:  # learn what completions really cost, for the next estimates
            self._completion_estimate = max(16, (self._completion_estimate + completion) // 2)
        return prompt + completion, self.config.cost_usd(call.model, prompt, completion)

    def _take_usage(self, record: CallRecord, call: PreparedCall, response: Any) -> None:
        usage = response.usage
        prompt = (usage.prompt_tokens or 0) if usage else 0
        completion = (usage.completion_tokens or 0) if usage else 0
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
        cost = self.config.cost_usd(call.model, prompt, completion)
        record.prompt_tokens += prompt
        record.completion_tokens += completion
        record.cached_tokens += cached
        record.cost_usd += cost
        self._accounting.record_usage(call.model, prompt, completion, cached, cost)

    async def _finish(self, record: CallRecord, writer: CacheWriter) -> None:
        """Commit the row before the item counts as done (the writer thread keeps the loop free)."""
        if record.error is not None:
            record.error = self._redact(record.error)
            # The model's own answer was unusable: final. Anything else (transport): sent again.
            if record.status != "rejected":
                record.status = "failed"
            self._accounting.failures += 1
            self._log.warning(f"llm call failed: {record.error}")
        self._accounting.items_completed += 1
        await asyncio.wrap_future(writer.submit(record))

    def _cause(self, call: PreparedCall, cause: str | None, attempts: int) -> str:
        return self._redact(
            f"item {call.item_id!r} role {call.role!r} model {call.model!r}"
            f" failed after {attempts} attempt(s): {cause}"
        )

    def _redact(self, text: str) -> str:
        """Servers sometimes echo the key in error messages; it never leaves this client."""
        if self._secret and self._secret in text:
            text = text.replace(self._secret, "***")
        return text

    def _new_record(self, call: PreparedCall, via: str) -> CallRecord:
        return CallRecord(
            call_id=call.key,
            kind=call.kind,
            role=call.role,
            item_id=call.item_id,
            model=call.model,
            prompt_version=call.prompt_version,
            request=call.body,
            status="failed",
            via=via,
        )

    def _result(self, call: PreparedCall, record: CallRecord | None, cached: set[str]) -> LLMResult:
        if record is None:
            return LLMResult(
                item_id=call.item_id,
                call_id=call.key,
                model=call.model,
                ok=False,
                error=f"item {call.item_id!r} role {call.role!r}: not sent (budget exhausted)",
            )
        parsed = None
        if record.ok and call.response_model is not None:
            parsed = record.parsed
            if not isinstance(parsed, call.response_model):
                parsed = call.response_model.model_validate(record.response_json)
        return LLMResult(
            item_id=call.item_id,
            call_id=record.call_id,
            model=record.model,
            ok=record.ok,
            parsed=parsed,
            content=record.response_content,
            error=record.error,
            cached=call.key in cached,
            rejected=record.status == "rejected",
            prompt_tokens=record.prompt_tokens,
            completion_tokens=record.completion_tokens,
            cost_usd=record.cost_usd,
        )

    def _check_outcome(self, results: list[LLMResult], requests: list[LLMRequest]) -> None:
        if self._budget.exhausted:
            done = sum(1 for r in results if r.ok)
            raise BudgetExhausted(
                f"LLM budget exhausted ({self._budget_text()}): {done} of {len(results)} items"
                " done and cached; re-run with a larger budget to resume",
                results,
            )
        failed = [r for r in results if not r.ok]
        if results and len(failed) / len(results) > self.config.max_failure_rate:
            sample = "; ".join(r.error or "" for r in failed[:3])
            raise LLMFailureRateExceeded(
                f"{len(failed)} of {len(results)} LLM items failed, above the"
                f" {self.config.max_failure_rate:.0%} threshold; failures are recorded in"
                f" llm_calls and a re-run retries only them. First: {sample}",
                results,
            )

    def _check_outcome_embeddings(
        self, calls: list[PreparedCall], records: dict[str, CallRecord]
    ) -> None:
        if self._budget.exhausted:
            raise BudgetExhausted(f"LLM budget exhausted ({self._budget_text()})")
        failed = sum(1 for c in calls if not (records.get(c.key) and records[c.key].ok))
        if calls and failed / len(calls) > self.config.max_failure_rate:
            raise LLMFailureRateExceeded(
                f"{failed} of {len(calls)} embeddings failed, above the threshold", []
            )

    def _budget_text(self) -> str:
        budget = self._budget
        return (
            f"spent {budget.spent_tokens} tokens / {budget.max_tokens},"
            f" ${budget.spent_usd:.4f} / {budget.max_usd}"
        )


def _run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """asyncio.run, or a helper thread when the caller already runs an event loop.

    The probe for a running loop is settled before anything runs: raised inside its `except`,
    a failure of the work itself would carry a chained "no running event loop" that hides it."""
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if not in_loop:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
