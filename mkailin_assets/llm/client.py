"""The one LLM client every agent uses: cached, concurrent, retried, validated, accounted.

    client = LLMClient(LLMConfig.from_env(), con, logger=context.log)
    results = client.run(requests)           # list[LLMResult], in request order
    vectors = client.embed(texts, item_ids)  # list[list[float] | None]
    context.add_output_metadata(client.accounting())

Flow per request: cache key -> a final row in llm_calls (read while the caller holds the DuckDB
file: attached, or `prefetch` in a read phase) or in the live store (answered by a concurrent
run)? -> a claim in the live store (another run sending the same call: wait for its answer) ->
the backend (llm/backends.py: offline, an OpenAI-compatible server, or the local model), or a
Batch API submission -> validated -> appended to this client's spool (fsynced: paid answers are
durable) and published to the live store. `commit(con)` brings spools into llm_calls in the
write phase; an attached client (built with a connection) commits after every run. HTTP calls go
through AsyncOpenAI under an adaptive concurrency limit with our own retries, in the
structured-output mode that works for the server (llm/structured.py), bounded by per-role
max_tokens and a timeout that follows it.

Without a connection (`LLMClient(config, database_path=...)`), nothing here touches DuckDB
between `prefetch` and `commit`: the model phase of a stage runs while other runs write.

With MKAILIN_MODEL_WORKERS set (a queue directory), the calls the cache and the live store do
not answer go as one job to a model worker process (llm/model_worker.py, llm/model_queue.py),
which sends them with this same machinery and spools the answers into the database's spool
directory; this client waits for its result and `commit` imports the worker's spool as it
imports any spool no living client holds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import openai
from pydantic import BaseModel, ValidationError

from mkailin_assets import settings
from mkailin_assets.llm import model_queue, structured
from mkailin_assets.llm.accounting import Accounting, Budget, BudgetExhausted
from mkailin_assets.llm.backends import Backend, OpenAIBackend, make_backend
from mkailin_assets.llm.cache import (
    CallRecord,
    LLMCache,
    call_key,
    canonical_json,
    record_from_json,
    record_to_json,
)
from mkailin_assets.llm.concurrency import AdaptiveLimiter, backoff_seconds, retry_after_seconds
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.live_store import LiveStore, SQLiteLiveStore, live_store_path
from mkailin_assets.llm.spool import (
    Spool,
    holder_is_dead,
    new_holder,
    orphaned_spools,
    read_spool,
    set_aside_refused,
    spool_dir_for,
)
from mkailin_assets.llm.types import LLMRequest, LLMResult, PreparedCall

T = TypeVar("T")
EMBEDDING_CHUNK = 128  # inputs per embeddings request
_RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
_PRESSURE_STATUS = {429, 503}
CLAIM_LEASE_S = 30.0  # a dead holder's claims lapse after this; the living renew every third
CLAIM_POLL_S = 0.5
LIVE_KEEP_S = 6 * 3600.0  # answers stay in the live store this long (runs in flight read them)
LATENCY_TOKEN_ALLOWANCE = 32  # a request's fixed cost, in generated tokens, for the limiter
QUEUED_MARK = "[queued behind "  # a timeout that says nothing against the request itself  # how often a run waiting on another run's call looks for its answer


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


def embedding_key(model: str, text: str) -> str:
    return call_key("embeddings", model, {}, text, None, "embeddings-v1")


def database_file(con: duckdb.DuckDBPyConnection) -> str | None:
    """The file behind a connection (None for an in-memory database)."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return rows[0][0] if rows and rows[0][0] else None


def default_live_store(database_path: str | None, spool_dir: Path) -> LiveStore:
    """MKAILIN_LLM_LIVE_STORE: the instance's PostgreSQL when it is on PostgreSQL (auto) or
    asked for, else SQLite beside the DuckDB file (or the spool of an in-memory database)."""
    choice = settings.get_settings().llm_live_store
    if choice in ("auto", "postgres"):
        from mkailin_assets.llm.live_store_postgres import instance_live_store

        store = instance_live_store()
        if store is not None:
            return store
        if choice == "postgres":
            raise RuntimeError(
                "MKAILIN_LLM_LIVE_STORE=postgres, but the Dagster instance ($DAGSTER_HOME/"
                "dagster.yaml) is not on PostgreSQL: see scripts/postgres.sh"
            )
    if database_path:
        return SQLiteLiveStore(live_store_path(database_path))
    return SQLiteLiveStore(spool_dir / "live.sqlite")


class LLMClient:
    def __init__(
        self,
        config: LLMConfig,
        con: duckdb.DuckDBPyConnection | None = None,
        logger: Any | None = None,
        *,
        database_path: str | None = None,
        live_store: LiveStore | None = None,
        spool_dir: Path | None = None,
        model_workers: bool = True,
    ) -> None:
        """`con`: attached (lookups in llm_calls, a commit after every run). Without it, the
        client needs `database_path` (where its spool lives) and reads llm_calls only through
        `prefetch` and writes only through `commit`, both given a connection by the caller.
        `model_workers=False`: send here even when MKAILIN_MODEL_WORKERS is set (the workers'
        own clients); `spool_dir`: the spool directory a job names (a worker's clients)."""
        self.config = config
        self._log = logger or logging.getLogger("mkailin.llm")
        self._con = con
        self._cache = LLMCache(con) if con is not None else None
        if database_path is None and con is not None:
            database_path = database_file(con)
        self.database_path = database_path
        if spool_dir is None:
            spool_dir = (
                spool_dir_for(database_path)
                if database_path
                else Path(tempfile.mkdtemp(prefix="mkailin-spool-"))
            )
        queue = settings.get_settings().model_workers if model_workers else None
        self.model_queue = Path(queue) if queue else None
        self.holder = new_holder()
        self._spool = Spool(spool_dir, self.holder)
        self._live = live_store or default_live_store(database_path, spool_dir)
        self._prefetched: dict[str, CallRecord] = {}
        self._orphans_absorbed = False
        self._accounting = Accounting()
        self._budget = Budget(config.budget_tokens, config.budget_usd)
        self._rng = random.Random()
        self._secret = config.api_key_value()
        self.backend = make_backend(config)
        self._modes = structured.ModeStore()
        if con is not None:
            self._modes.load(con)
        self.modes_used: dict[str, str] = {}  # model -> structured-output mode, for metadata
        self.max_in_flight = 0  # highest concurrency reached, for tests and benchmarks
        self._completion_estimate = 256
        self.truncated = 0  # responses cut at max_tokens (finish_reason=length)
        self.timeouts = 0
        self.rejections_cached = 0  # final rejections of earlier runs, answered from the cache
        self.shared_answers = 0  # calls another run was sending: its answer, not a new request
        self.spools_imported = 0
        self.spool_lines_refused = 0
        self.concurrency_settled: dict[str, int] = {}  # endpoint/model -> limit, for metadata
        self.worker_jobs = 0  # jobs model workers answered for this client

    # ---- public API ----------------------------------------------------------------------
    def run(self, requests: list[LLMRequest]) -> list[LLMResult]:
        """Answer every request (cache first), results in request order."""
        return _run_sync(lambda: self.arun(requests))

    async def arun(self, requests: list[LLMRequest]) -> list[LLMResult]:
        self._absorb_orphans_attached()
        prepared = [prepare_chat(request, self.config, self.backend) for request in requests]
        with self._accounting.timed():
            records, cached = await self._resolve(prepared)
        results = [self._result(call, records.get(call.key), cached) for call in prepared]
        self._commit_attached()
        self._check_outcome(results, requests)
        return results

    def embed(self, texts: list[str], item_ids: list[str]) -> list[list[float] | None]:
        return _run_sync(lambda: self.aembed(texts, item_ids))

    async def aembed(self, texts: list[str], item_ids: list[str]) -> list[list[float] | None]:
        if len(texts) != len(item_ids):
            raise ValueError("embed: texts and item_ids differ in length")
        self._absorb_orphans_attached()
        model = self.backend.model_for("embeddings")
        calls = [
            PreparedCall(
                key=embedding_key(model, text),
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
        self._commit_attached()
        self._check_outcome_embeddings(calls, records)
        return vectors

    # ---- phases: read (prefetch), model calls (run/embed), write (commit) ----------------
    def prefetch(self, con: duckdb.DuckDBPyConnection, requests: list[LLMRequest]) -> int:
        """Read phase: the final rows llm_calls holds for these requests (and the endpoints'
        modes), kept in memory so the model phase needs no DuckDB. Returns the rows found.
        Every request `run` may send later must be prefetched (or it would miss the cache)."""
        keys = [prepare_chat(request, self.config, self.backend).key for request in requests]
        return self.prefetch_keys(con, keys)

    def prefetch_embeddings(self, con: duckdb.DuckDBPyConnection, texts: list[str]) -> int:
        """Read phase for `embed`: the cached vectors of these texts."""
        model = self.backend.model_for("embeddings")
        return self.prefetch_keys(con, [embedding_key(model, text) for text in texts])

    def prefetch_keys(self, con: duckdb.DuckDBPyConnection, keys: list[str]) -> int:
        cache = LLMCache(con)
        try:
            self._import_orphans(cache)  # a killed run's paid answers count as cached
            found = cache.lookup_final(list(dict.fromkeys(keys)), True)
        finally:
            cache.close()
        self._prefetched.update(found)
        self._modes.load(con)
        return len(found)

    def commit(self, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """Write phase: this client's spool and every orphaned spool (a killed run's paid
        answers) into llm_calls, one transaction each; then the spool files go."""
        cache = self._cache if con is self._con and self._cache is not None else LLMCache(con)
        try:
            imported = self._import_orphans(cache)
            own = [record_from_json(row) for row in self._spool.pending]
            written = cache.import_records(own)
            self._spool.committed()
            self._modes.flush(con)
            self._live.prune(LIVE_KEEP_S)  # what is in llm_calls need not stay live for long
        finally:
            if cache is not self._cache:
                cache.close()
        return {"own": written, "orphaned": imported}

    def _import_orphans(self, cache: LLMCache) -> int:
        imported = 0
        for path in orphaned_spools(self._spool.directory, own=self._spool.path):
            read = read_spool(path)
            if read.reason:
                kept = set_aside_refused(read)
                self.spool_lines_refused += len(read.refused_lines)
                self._log.warning(f"{read.reason}; refused lines kept in {kept}")
            imported += cache.import_records([record_from_json(row) for row in read.rows])
            path.unlink(missing_ok=True)
            self.spools_imported += 1
            if read.rows:
                self._log.info(f"imported {len(read.rows)} paid answer(s) from orphaned {path}")
        return imported

    def _absorb_orphans_attached(self) -> None:
        if self._cache is not None and not self._orphans_absorbed:
            self._orphans_absorbed = True
            self._import_orphans(self._cache)

    def _commit_attached(self) -> None:
        if self._con is not None and (self._spool.pending or self._spool.directory.is_dir()):
            self.commit(self._con)

    def close(self) -> None:
        """Close the client's own cursors and files (the caller's connection stays open). An
        uncommitted spool stays on disk: the next write phase of any run imports it."""
        self.backend.close()
        self._modes.close()
        self._spool.close()
        self._live.close()
        if self._cache is not None:
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
        metadata["llm.shared_answers"] = self.shared_answers
        metadata["llm.spools_imported"] = self.spools_imported
        metadata["llm.spool_lines_refused"] = self.spool_lines_refused
        if self.model_queue is not None:
            metadata["llm.model_worker_jobs"] = self.worker_jobs
        if self.concurrency_settled:
            metadata["llm.concurrency"] = ", ".join(
                f"{name}: {limit}" for name, limit in sorted(self.concurrency_settled.items())
            )
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

            if self._cache is None:
                raise RuntimeError("batch mode needs a client attached to the DuckDB file")

            batch_ids, pending = batch.submit_missing(self._cache, self.config, missing)
            raise BatchPending(
                f"{pending} request(s) are in OpenAI batches {batch_ids}; run poll_batches()"
                " and re-run to collect them",
                batch_ids,
                pending,
            )
        elif self.model_queue is not None and self.backend.name != "offline":
            answered, answered_cached = await self._via_model_workers(missing)
            records.update(answered)
            cached.update(answered_cached)
        else:
            records.update(await self.backend.complete(self, missing))
        return records, cached

    # ---- model workers (MKAILIN_MODEL_WORKERS) -------------------------------------------
    async def _via_model_workers(
        self, calls: list[PreparedCall]
    ) -> tuple[dict[str, CallRecord], set[str]]:
        """One job for the calls nothing here answers; wait for a worker's result (the DuckDB
        file is not held meanwhile). The worker's spool is imported by `commit`."""
        assert self.model_queue is not None
        queue = self.model_queue
        job_id = model_queue.new_job_id()
        job_path = model_queue.jobs_dir(queue) / f"{job_id}.json"
        result_path = model_queue.results_dir(queue) / f"{job_id}.json"
        budget = self._budget
        job = {
            "version": model_queue.JOB_VERSION,
            "job_id": job_id,
            "submitted_by": self.holder,
            "database_path": self.database_path,
            "spool_dir": str(self._spool.directory),
            "calls": [model_queue.call_to_json(call) for call in calls],
            "budget_tokens": None
            if budget.max_tokens is None
            else max(0, budget.max_tokens - budget.spent_tokens),
            "budget_usd": None
            if budget.max_usd is None
            else max(0.0, budget.max_usd - budget.spent_usd),
            "modes": self._modes.export(),
        }
        timeout = settings.get_settings().model_workers_timeout_s
        await asyncio.to_thread(model_queue.write_atomically, job_path, job)
        self._log.info(f"llm: {len(calls)} call(s) handed to the model workers as job {job_id}")
        started = last_seen = time.monotonic()
        last_log = started
        taken = False
        try:
            while not result_path.exists():
                state = await asyncio.to_thread(model_queue.job_state, job_path)
                now = time.monotonic()
                if state == "taken":
                    taken, last_seen = True, now
                elif state == "gone" and not result_path.exists():
                    raise model_queue.ModelWorkerFailed(
                        f"model worker job {job_id} was removed from {queue} without a result"
                    )
                elif now - last_seen > timeout:
                    raise model_queue.ModelWorkerUnavailable(
                        f"no model worker took job {job_id} ({len(calls)} call(s)) in"
                        f" {timeout:.0f} s: start `python -m mkailin_assets.llm.model_worker"
                        f" --queue {queue}` where the endpoint is reachable"
                        " (MKAILIN_MODEL_WORKERS_TIMEOUT_S sets the wait)"
                    )
                if now - last_log >= 10:
                    last_log = now
                    doing = "at a model worker" if state == "taken" else "waiting for a worker"
                    self._log.info(
                        f"llm: job {job_id} ({len(calls)} call(s)) {doing}, {now - started:.0f} s"
                    )
                await asyncio.sleep(0.1 if taken else 0.2)
            result = await asyncio.to_thread(_read_json, result_path)
        except BaseException:
            with contextlib.suppress(OSError):
                job_path.unlink()  # nobody waits for it any more
            raise
        for done in (result_path, job_path):  # the job too, should its worker have died after
            with contextlib.suppress(OSError):  # writing the result
                done.unlink()
        if result.get("error"):
            raise model_queue.ModelWorkerFailed(
                f"model worker {result.get('worker')} failed job {job_id}: {result['error']}"
            )
        self.worker_jobs += 1
        self._adopt_worker_report(result.get("report") or {})
        records = {}
        for row in result.get("records") or []:
            record = record_from_json(row)
            if record.error is not None:
                self._log.warning(f"llm call failed: {record.error}")
            records[record.call_id] = record
        return records, set(result.get("cached") or [])

    def _adopt_worker_report(self, report: dict[str, Any]) -> None:
        """Fold a worker's accounting for this client's job into this client's."""
        accounting = self._accounting
        for name in (
            "requests_sent",
            "items_completed",
            "cache_hits",
            "failures",
            "retries",
            "schema_retries",
        ):
            setattr(accounting, name, getattr(accounting, name) + int(report.get(name) or 0))
        accounting.latencies_ms.extend(report.get("latencies_ms") or [])
        for model, usage in (report.get("usage") or {}).items():
            mine = accounting.usage[model]
            for name, value in usage.items():
                setattr(mine, name, getattr(mine, name) + value)
        self.timeouts += int(report.get("timeouts") or 0)
        self.truncated += int(report.get("truncated") or 0)
        self.shared_answers += int(report.get("shared_answers") or 0)
        self.rejections_cached += int(report.get("rejections_cached") or 0)
        self.max_in_flight = max(self.max_in_flight, int(report.get("max_in_flight") or 0))
        self.concurrency_settled.update(report.get("concurrency_settled") or {})
        self.modes_used.update(report.get("modes_used") or {})
        self._modes.adopt(report.get("modes_learned") or [])
        self._budget.spent_tokens += int(report.get("budget_spent_tokens") or 0)
        self._budget.spent_usd += float(report.get("budget_spent_usd") or 0.0)
        self._budget.exhausted = self._budget.exhausted or bool(report.get("budget_exhausted"))

    def worker_report(self) -> dict[str, Any]:
        """What a model worker's client reports with a job's result (see _adopt_worker_report)."""
        accounting = self._accounting
        return {
            "requests_sent": accounting.requests_sent,
            "items_completed": accounting.items_completed,
            "cache_hits": accounting.cache_hits,
            "failures": accounting.failures,
            "retries": accounting.retries,
            "schema_retries": accounting.schema_retries,
            "latencies_ms": accounting.latencies_ms,
            "usage": {model: vars(usage) for model, usage in accounting.usage.items()},
            "timeouts": self.timeouts,
            "truncated": self.truncated,
            "shared_answers": self.shared_answers,
            "rejections_cached": self.rejections_cached,
            "max_in_flight": self.max_in_flight,
            "concurrency_settled": self.concurrency_settled,
            "modes_used": self.modes_used,
            "modes_learned": self._modes.export(pending_only=True),
            "budget_spent_tokens": self._budget.spent_tokens,
            "budget_spent_usd": self._budget.spent_usd,
            "budget_exhausted": self._budget.exhausted,
        }

    def prefetch_orphaned_spools(self, keys: list[str]) -> int:
        """Without DuckDB (a model worker): the final answers for `keys` that spools no living
        client holds carry (a worker killed mid-job paid them; the next write phase imports the
        files, left in place here). Closes the gap between an answer's spool line and its
        publication in the live store. Returns the rows found."""
        wanted, found = set(keys), 0
        for path in orphaned_spools(self._spool.directory, own=self._spool.path):
            with contextlib.suppress(OSError):
                for row in read_spool(path).rows:
                    if row["call_id"] in wanted and row["status"] in ("ok", "rejected"):
                        self._prefetched[row["call_id"]] = record_from_json(row)
                        found += 1
        return found

    def adopt_modes(self, rows: list[list[Any]]) -> None:
        """Modes known elsewhere (a job's), so a worker need not probe them again."""
        self._modes.adopt(rows, pending=False)

    def _final_records(self, keys: list[str]) -> dict[str, CallRecord]:
        """Final rows for keys: llm_calls (attached) or the prefetched rows, then the live store
        (answers of concurrent runs not yet in llm_calls)."""
        if self._cache is not None:
            found = self._cache.lookup_final(keys, True)
        else:
            found = {key: self._prefetched[key] for key in keys if key in self._prefetched}
        rest = [key for key in keys if key not in found]
        if rest:
            for key, text in self._live.lookup(rest).items():
                found[key] = record_from_json(json.loads(text))
        if self.config.resend_rejected:
            found = {key: record for key, record in found.items() if record.status == "ok"}
        return found

    def _cached(self, unique: dict[str, PreparedCall]) -> dict[str, CallRecord]:
        found = self._final_records(list(unique))
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
        self._persist(records)

    def _persist(self, records: list[CallRecord]) -> None:
        """Durable first (the spool), then shared (the live store: answers, or the claim let go)."""
        self._spool.append([record_to_json(record) for record in records])
        for record in records:
            if record.via == "offline":
                continue  # free and deterministic: nothing to share
            # Only answers are shared live: a rejection stays this run's (a run asked to
            # resend rejections must be able to claim the call again).
            if record.status == "ok":
                self._live.publish(
                    record.call_id, canonical_json(record_to_json(record)), self.holder
                )
            else:
                self._live.release([record.call_id], self.holder)

    # ---- the HTTP path -------------------------------------------------------------------
    async def send_http(
        self, calls: list[PreparedCall], backend: OpenAIBackend
    ) -> dict[str, CallRecord]:
        """Send uncached calls to an OpenAI-compatible server; chat calls in the structured
        mode that works there (probed with the first call of each model when unknown)."""
        endpoint, model = backend.endpoint(), calls[0].model
        maximum = backend.max_concurrency()
        limiter = AdaptiveLimiter(
            maximum,
            cooldown_s=self.config.pressure_cooldown_s,
            start=self._modes.concurrency(endpoint, model),
        )
        writer = None  # answers go to the spool (self._persist); kept for the signatures
        api = self._openai(backend.base_url())
        renewing = asyncio.ensure_future(self._renew_claims())
        try:
            if calls[0].kind == "embeddings":
                # Ours are sent in chunks; those another run is sending are waited for (and
                # sent alone if its claim lapses).
                ours, theirs = await self._split_claimed(calls)
                chunks = [
                    ours[i : i + EMBEDDING_CHUNK] for i in range(0, len(ours), EMBEDDING_CHUNK)
                ]
                jobs = [self._embed_chunk(api, limiter, writer, chunk) for chunk in chunks]
                waits = [
                    self._claimed(c, lambda c=c: self._embed_one(api, limiter, writer, c))
                    for c in theirs
                ]
                outcomes = await asyncio.gather(*jobs)
                records = {r.call_id: r for chunk in outcomes for r in chunk}
                waited = await asyncio.gather(*waits)
                records.update({r.call_id: r for r in waited if r is not None})
            else:
                records, rest = await self._probe_modes(api, limiter, writer, calls, backend)
                jobs = [
                    self._claimed(
                        call, lambda c=call, m=mode: self._send_one(api, limiter, writer, c, m)
                    )
                    for call, mode in rest
                ]
                outcomes = await asyncio.gather(*jobs)
                records.update({r.call_id: r for r in outcomes if r is not None})
        finally:
            renewing.cancel()
            self.max_in_flight = max(self.max_in_flight, limiter.max_in_flight)
            await api.close()
        settled = max(1, int(limiter.limit))
        self.concurrency_settled[f"{endpoint} {model}"] = settled
        self._modes.put_concurrency(endpoint, model, settled)
        return records

    async def _split_claimed(
        self, calls: list[PreparedCall]
    ) -> tuple[list[PreparedCall], list[PreparedCall]]:
        ours, theirs = [], []
        for call in calls:
            claimed = await asyncio.to_thread(
                self._live.claim, call.key, self.holder, CLAIM_LEASE_S
            )
            (ours if claimed else theirs).append(call)
        return ours, theirs

    async def _embed_one(
        self, api: openai.AsyncOpenAI, limiter: AdaptiveLimiter, writer: Any, call: PreparedCall
    ) -> CallRecord | None:
        records = await self._embed_chunk(api, limiter, writer, [call])
        return records[0] if records else None

    async def _renew_claims(self) -> None:
        """Keep this client's claims alive while it sends (a dead client's lapse)."""
        while True:
            await asyncio.sleep(CLAIM_LEASE_S / 3)
            await asyncio.to_thread(self._live.renew, self.holder, CLAIM_LEASE_S)

    async def _claimed(
        self, call: PreparedCall, send: Callable[[], Awaitable[CallRecord | None]]
    ) -> CallRecord | None:
        """Send `call` only under our claim; while another run holds it, wait for its answer
        (the same request is paid once, whichever run asks). A claim of a dead run lapses."""
        waiting = False
        while not await asyncio.to_thread(self._live.claim, call.key, self.holder, CLAIM_LEASE_S):
            found = self._final_records([call.key]).get(call.key)
            if found is not None and self._usable(call, found):
                self.shared_answers += 1
                self._accounting.cache_hits += 1
                return found
            holder = self._live.holder_of(call.key)
            if holder and holder_is_dead(holder):  # killed on this host: no need to wait its lease
                self._live.release([call.key], holder)
                continue
            if not waiting:
                waiting = True
                self._log.debug(f"llm {call.item_id!r}: waiting for run {holder} sending it")
            await asyncio.sleep(CLAIM_POLL_S)
        return await send()

    def _usable(self, call: PreparedCall, record: CallRecord) -> bool:
        if record.status == "rejected":
            return True
        if call.kind == "chat" and call.response_model is not None:
            record.parsed, _, error = validate_content(
                record.response_content, record.finish_reason, call.response_model
            )
            return error is None
        return record.ok

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
        writer: Any,
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
        writer: Any,
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
        writer: Any,
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
        forgiven = False
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
                # A timeout beside its siblings is forgiven once: it may have been queueing.
                queued = bool(error and QUEUED_MARK in error) and not forgiven
                forgiven = forgiven or queued
                transport_failures += 0 if queued else 1
                if error and error.startswith("APITimeoutError"):
                    timeouts += 0 if queued else 1
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
        writer: Any,
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
            alongside = limiter.in_flight_at_send
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
                cause = f"{type(error).__name__}: {error}"
                if isinstance(error, openai.APITimeoutError) and alongside > 1:
                    # Sent beside its own siblings: it may have waited in the server's queue.
                    # Fewer go at once from now on, and this timeout is not held against it.
                    limiter.on_pressure(epoch)
                    cause += f" {QUEUED_MARK}{alongside - 1} other request(s)]"
                return None, cause, self._retry_delay(None, failures_so_far)
            elapsed = time.perf_counter() - sent_at
            self._accounting.latencies_ms.append(elapsed * 1000)
            self._budget.settle(estimate_tokens, estimate_usd, *self._spent(call, response))
            usage = getattr(response, "usage", None)
            tokens = (getattr(usage, "completion_tokens", 0) or 0) if usage else 0
            # Per generated token plus a fixed allowance: answers of different lengths from a
            # server that is not queueing compare as equals, queueing multiplies the latency.
            fast = limiter.on_latency(
                epoch, elapsed / (tokens + LATENCY_TOKEN_ALLOWANCE), alongside
            )
            await limiter.on_success(grow=fast)
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

    async def _finish(self, record: CallRecord, writer: Any) -> None:
        """On disk (the spool, fsynced) before the item counts as done; then shared."""
        if record.error is not None:
            record.error = self._redact(record.error)
            # The model's own answer was unusable: final. Anything else (transport): sent again.
            if record.status != "rejected":
                record.status = "failed"
            self._accounting.failures += 1
            self._log.warning(f"llm call failed: {record.error}")
        self._accounting.items_completed += 1
        await asyncio.to_thread(self._persist, [record])

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


def _read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


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
