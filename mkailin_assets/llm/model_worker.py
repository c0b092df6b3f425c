"""A model worker: sends the model phases' calls that runs hand over through a job queue.

    python -m mkailin_assets.llm.model_worker --queue DIR

Runs set MKAILIN_MODEL_WORKERS=DIR (llm/model_queue.py describes the files). The worker builds
its LLM client from its own environment (MKAILIN_LLM_BACKEND, _BASE_URL, _API_KEY, limits): no
secret is in a job, and none is logged. It never opens the DuckDB file: per job it answers from
the live store (the instance's PostgreSQL, or SQLite beside the database when the instance is on
SQLite), claims each call there so that one request is paid once across runs and workers, sends
the rest under the adaptive concurrency limit, and appends every answer, fsynced, to a spool file
of its own in the spool directory the job names. After the job it closes that spool, which frees
its lock, so the next read or write phase of any run imports it into `llm_calls` as it imports a
dead run's spool; then it writes the result (records and accounting) and removes the job.

Jobs are taken under an exclusive lock on the job file: a worker that dies frees it and another
worker (or this one restarted) takes the job over, finding what the dead one was paid for in the
live store and in its spool (the worker reads the spools no living client holds for answers to
the job's calls before sending). SIGTERM or SIGINT: the current job stops, its spool is closed
(what was paid stays), the job goes back to the queue, and the worker exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from mkailin_assets.llm import model_queue
from mkailin_assets.llm.cache import record_to_json
from mkailin_assets.llm.client import LLMClient
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.live_store import SQLiteLiveStore
from mkailin_assets.llm.structured import endpoint_id
from mkailin_assets.settings import get_settings

log = logging.getLogger("mkailin.model_worker")
POLL_S = 0.2
PRUNE_EVERY_S = 600.0  # how often an idle worker removes results nobody read


class Stopped(BaseException):
    """SIGTERM/SIGINT while a job runs: its task was cancelled, the job goes back."""


class ModelWorker:
    def __init__(self, queue: Path, config: LLMConfig | None = None) -> None:
        self.queue = queue
        self.config = (config or LLMConfig.from_env()).model_copy(update={"batch_mode": False})
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.modes: list[list[Any]] = []  # structured-output modes learned, kept across jobs
        self.stopping = False
        self.jobs_done = 0
        self.warned_sqlite = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None  # the job's sending, cancelled by a signal

    # ---- signals -----------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stopping = True
        log.info(f"model worker {self.name}: {signal.Signals(signum).name}, stopping")
        task, loop = self._task, self._loop
        if task is not None and loop is not None:
            loop.call_soon_threadsafe(task.cancel)  # unwinds the job's sending cooperatively

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    # ---- the loop ----------------------------------------------------------------------------
    def serve(self, max_jobs: int | None = None) -> int:
        model_queue.jobs_dir(self.queue).mkdir(parents=True, exist_ok=True)
        model_queue.results_dir(self.queue).mkdir(parents=True, exist_ok=True)
        log.info(
            f"model worker {self.name}: queue {self.queue}, backend {self.config.backend},"
            f" endpoint {endpoint_id(self.config.base_url)}"
        )
        pruned_at = 0.0
        while not self.stopping:
            job = model_queue.take_next(self.queue)
            if job is None:
                if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                    pruned_at = time.monotonic()
                    model_queue.prune_results(self.queue)
                time.sleep(POLL_S)
                continue
            try:
                self.run_job(job)
            except Stopped:
                log.info(f"model worker {self.name}: job {job.job_id} left to the queue")
            finally:
                job.release()
            if max_jobs is not None and self.jobs_done >= max_jobs:
                break
        return 0

    def run_job(self, job: model_queue.TakenJob) -> None:
        data = job.data
        started = time.perf_counter()
        log.info(
            f"model worker {self.name}: job {job.job_id}, {len(data.get('calls') or [])} call(s)"
        )
        result: dict[str, Any] = {"job_id": job.job_id, "worker": self.name}
        if data.get("version") != model_queue.JOB_VERSION:
            result["error"] = f"job format {data.get('version')!r}, this worker reads 1"
        else:
            try:
                result.update(self._answer(data))
            except Exception as error:  # reported to the run, which fails naming it
                result["error"] = self._redact(f"{type(error).__name__}: {error}")
                # Redacted, without the traceback: a server may echo the key in its message.
                log.error(f"model worker {self.name}: job {job.job_id} failed: {result['error']}")
        model_queue.write_atomically(
            model_queue.results_dir(self.queue) / f"{job.job_id}.json", result
        )
        job.path.unlink(missing_ok=True)
        self.jobs_done += 1
        report = result.get("report") or {}
        log.info(
            f"model worker {self.name}: job {job.job_id} done in"
            f" {time.perf_counter() - started:.1f} s, {report.get('requests_sent', 0)}"
            f" request(s) sent, {report.get('shared_answers', 0)} shared"
        )

    def _answer(self, data: dict[str, Any]) -> dict[str, Any]:
        """The job's records, the keys answered without a request, and the accounting."""
        calls = [model_queue.call_from_json(call) for call in data.get("calls") or []]
        config = self.config.model_copy(
            update={
                "budget_tokens": data.get("budget_tokens"),
                "budget_usd": data.get("budget_usd"),
            }
        )
        client = LLMClient(
            config,
            logger=log,
            database_path=data.get("database_path"),
            spool_dir=Path(data["spool_dir"]),
            model_workers=False,
        )
        try:
            if not self.warned_sqlite and isinstance(client._live, SQLiteLiveStore):
                self.warned_sqlite = True
                log.warning(
                    "model worker: the live store is SQLite beside the database; only workers"
                    " and runs on this machine share it. Across machines, put the Dagster"
                    " instance on PostgreSQL (docs/scale-out.md §2) and give the worker its"
                    " DAGSTER_HOME and DAGSTER_PG_* settings"
                )
            client.adopt_modes(data.get("modes") or [])
            client.adopt_modes(self.modes)
            client.prefetch_orphaned_spools([call.key for call in calls])
            try:
                records, cached = asyncio.run(self._send(client, calls))
            except asyncio.CancelledError:
                raise Stopped from None
            report = client.worker_report()
        finally:
            client.close()  # the spool's lock goes: the next write phase imports it
        self.modes.extend(report["modes_learned"])
        return {
            "records": [record_to_json(record) for record in records.values()],
            "cached": sorted(cached),
            "report": report,
        }

    def _redact(self, text: str) -> str:
        secret = self.config.api_key_value()
        return text.replace(secret, "***") if secret else text

    async def _send(self, client: LLMClient, calls: list) -> tuple[dict, set[str]]:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        try:
            if self.stopping:
                raise asyncio.CancelledError
            return await client._resolve(calls)
        finally:
            self._task = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mkailin_assets.llm.model_worker", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--queue",
        default=get_settings().model_workers,
        help="the queue directory (default: MKAILIN_MODEL_WORKERS)",
    )
    parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")
    args = parser.parse_args(argv)
    if not args.queue:
        parser.error("--queue DIR (or MKAILIN_MODEL_WORKERS) is required")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    worker = ModelWorker(Path(args.queue))
    worker.install_signals()
    return worker.serve(args.max_jobs)


if __name__ == "__main__":
    sys.exit(main())
