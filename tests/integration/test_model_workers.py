"""Model workers (MKAILIN_MODEL_WORKERS): a run's model phase sent by another process that never
opens the DuckDB file, through a file queue; real processes against the local OpenAI-compatible
server. The run process's key differs from the worker's, so the server's Authorization headers
say which process sent each request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mkailin_assets.db import open_connection
from mkailin_assets.llm import model_queue
from mkailin_assets.llm.client import LLMClient
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.spool import read_spool, spool_dir_for
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer
from tests.integration.test_llm_client import make_requests

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_KEY = "sk-run-process"
WORKER_KEY = "sk-model-worker"

# The worker, with DuckDB's connect replaced by a trap: any attempt to open a database is
# written to a marker file (and fails), so a test can prove the worker never opened one.
WORKER = textwrap.dedent(
    """
    import sys, duckdb
    marker = sys.argv[1]
    def trap(*args, **kwargs):
        with open(marker, "a") as handle:
            handle.write(repr(args) + "\\n")
        raise RuntimeError("the model worker opened a DuckDB database")
    duckdb.connect = trap
    from mkailin_assets.llm.model_worker import main
    sys.exit(main(sys.argv[2:]))
    """
)

# A phased client, as a stage runs it: read phase, model phase (no DuckDB), write phase.
RUNNER = textwrap.dedent(
    """
    import json, sys
    from mkailin_assets.db import open_connection
    from mkailin_assets.llm.client import LLMClient
    from mkailin_assets.llm.config import LLMConfig
    from tests.integration.test_llm_client import make_requests

    db, url, total, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    config = LLMConfig(backend="openai", base_url=url, api_key=sys.argv[5], max_concurrency=8,
                       structured_output="json_schema")
    requests = make_requests(total, prefix=prefix)
    with LLMClient(config, database_path=db) as client:
        con = open_connection(db, lock_timeout_s=120)
        client.prefetch(con, requests)
        con.close()
        results = client.run(requests)
        con = open_connection(db, lock_timeout_s=120)
        committed = client.commit(con)
        con.close()
        rows = [
            {**vars(r), "parsed": r.parsed.model_dump() if r.parsed else None} for r in results
        ]
        print(json.dumps({"results": rows, "committed": committed,
                          "metadata": client.accounting()}))
    """
)


def worker_env(server: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "MKAILIN_LLM_BACKEND": "openai",
        "MKAILIN_LLM_BASE_URL": server.url,
        "MKAILIN_LLM_API_KEY": WORKER_KEY,
        "MKAILIN_LLM_MAX_CONCURRENCY": "8",
        "MKAILIN_LLM_STRUCTURED_OUTPUT": "json_schema",
        "MKAILIN_LLM_LIVE_STORE": "sqlite",
        **extra,
    }
    env.pop("MKAILIN_MODEL_WORKERS", None)
    env.pop("DAGSTER_HOME", None)
    return env


STARTED: list[subprocess.Popen] = []  # worker processes, killed after each test if left


@pytest.fixture(autouse=True)
def _no_worker_left_behind():
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def start_worker(queue: Path, marker: Path, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(marker), "--queue", str(queue)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(process)
    return process


def start_run(db: Path, server: FakeOpenAIServer, total: int, prefix: str, queue: Path | None):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MKAILIN_LLM_LIVE_STORE": "sqlite"}
    env.pop("MKAILIN_MODEL_WORKERS", None)
    env.pop("DAGSTER_HOME", None)
    if queue is not None:
        env |= {"MKAILIN_MODEL_WORKERS": str(queue), "MKAILIN_MODEL_WORKERS_TIMEOUT_S": "30"}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(db), server.url, str(total), prefix, RUN_KEY],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(run: subprocess.Popen) -> dict:
    out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def stop_worker(worker: subprocess.Popen) -> str:
    """SIGTERM: the worker exits 0 (and says so)."""
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err[-3000:]
    return err


def new_db(path: Path) -> Path:
    open_connection(path).close()
    return path


def ok_rows(db: Path) -> int:
    con = open_connection(db, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0]
    finally:
        con.close()


@pytest.mark.timeout(120)
def test_two_runs_through_one_worker_equal_the_in_process_results(tmp_path: Path) -> None:
    """(a, d) at the client's level: two run processes with MKAILIN_MODEL_WORKERS, one worker;
    every request sent by the worker (its key), none by the runs, none twice; the results equal
    an in-process run's field by field; every answer in llm_calls; the worker opened no DuckDB."""
    total = 24
    queue, marker = tmp_path / "queue", tmp_path / "duckdb-opened"
    with FakeOpenAIServer(latency_s=0.3, seed=5) as server:
        reference_db = new_db(tmp_path / "reference.duckdb")
        reference = [finish(start_run(reference_db, server, total, p, None)) for p in ("a", "b")]
        assert server.stats.by_path[CHAT_PATH] == 2 * total
        server.reset_stats()

        db = new_db(tmp_path / "workers.duckdb")
        worker = start_worker(queue, marker, worker_env(server))
        started = time.monotonic()
        runs = [start_run(db, server, total, prefix, queue) for prefix in ("a", "b")]
        reports = [finish(run) for run in runs]
        elapsed = time.monotonic() - started
        err = stop_worker(worker)
        assert "job" in err and WORKER_KEY not in err and RUN_KEY not in err

        assert server.stats.by_path[CHAT_PATH] == 2 * total
        assert max(server.stats.by_hash.values()) == 1  # no request paid twice
        assert set(server.stats.auth_headers) == {f"Bearer {WORKER_KEY}"}  # the runs sent none
    assert not marker.exists(), marker.read_text()
    for report, expected in zip(reports, reference, strict=True):
        assert report["results"] == expected["results"]
        metadata = report["metadata"]
        assert metadata["llm.model_worker_jobs"] == 1
        assert metadata["llm.requests_sent"] == total == metadata["llm.items_completed"]
        assert report["committed"]["own"] == 0  # the run's own spool held nothing
    assert sum(r["committed"]["orphaned"] for r in reports) == 2 * total  # the worker's spools
    assert ok_rows(db) == 2 * total
    assert not list(spool_dir_for(db).glob("*.jsonl"))
    assert not list(model_queue.jobs_dir(queue).iterdir())
    assert not list(model_queue.results_dir(queue).iterdir())
    print(f"two runs through one worker: {elapsed:.1f} s")


def worker_a_third_through(
    queue: Path,
    marker: Path,
    env: dict[str, str],
    db: Path,
    server: FakeOpenAIServer,
    total: int,
    tag: str,
) -> tuple[subprocess.Popen, subprocess.Popen]:
    """A worker and a run handing it `total` calls, once a third of them are sent."""
    worker = start_worker(queue, marker, env)
    run = start_run(db, server, total, tag, queue)
    deadline = time.monotonic() + 60
    while server.stats.by_path[CHAT_PATH] < total // 3:
        assert run.poll() is None and worker.poll() is None, worker.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the worker never got going"
        time.sleep(0.01)
    return worker, run


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_job_is_taken_over_and_nothing_paid_is_lost(tmp_path: Path) -> None:
    """(b) SIGKILL of the worker mid-job: its lock frees the job, a restarted worker finishes
    it without paying again for what the dead one spooled, and the run imports the dead
    worker's spool."""
    total = 60
    queue, marker = tmp_path / "queue", tmp_path / "duckdb-opened"
    db = new_db(tmp_path / "killed.duckdb")
    with FakeOpenAIServer(latency_s=0.3, seed=7) as server:
        env = worker_env(server)
        first, run = worker_a_third_through(queue, marker, env, db, server, total, "k")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        sent_before = server.stats.by_path[CHAT_PATH]
        spools = list(spool_dir_for(db).glob("*.jsonl"))
        assert len(spools) == 1  # the dead worker's: the run has not imported it yet
        paid = {row["call_id"] for row in read_spool(spools[0]).rows if row["status"] == "ok"}
        assert 0 < len(paid) < total
        jobs = list(model_queue.jobs_dir(queue).glob("*.json"))
        assert len(jobs) == 1 and model_queue.job_state(jobs[0]) == "waiting"  # lease freed

        second = start_worker(queue, marker, env)
        report = finish(run)
        stop_worker(second)
        sent = server.stats.by_path[CHAT_PATH]
    in_flight_lost = sent_before - len(paid)
    assert sent - total <= in_flight_lost  # only what was in flight at the kill is sent again
    assert sent - sent_before == total - len(paid)  # the spooled answers were not paid again
    assert all(r["ok"] for r in report["results"])
    assert report["metadata"]["llm.model_worker_jobs"] == 1
    assert ok_rows(db) == total  # the dead worker's answers and the second's, all recorded
    assert not list(spool_dir_for(db).glob("*.jsonl"))
    assert not marker.exists()
    print(
        f"killed worker: {sent_before} sent, {len(paid)} spooled, {in_flight_lost} in flight lost;"
        f" the second worker sent {sent - sent_before}; {sent} requests for {total} calls"
    )


@pytest.mark.timeout(60)
def test_without_a_worker_the_run_fails_naming_the_command(tmp_path: Path, monkeypatch) -> None:
    """(c) nobody takes the job: after the timeout the run fails with the command to start one,
    and the job leaves the queue."""
    queue = tmp_path / "queue"
    monkeypatch.setenv("MKAILIN_MODEL_WORKERS", str(queue))
    monkeypatch.setenv("MKAILIN_MODEL_WORKERS_TIMEOUT_S", "1.5")
    monkeypatch.setenv("MKAILIN_LLM_LIVE_STORE", "sqlite")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    db = new_db(tmp_path / "alone.duckdb")
    with FakeOpenAIServer(latency_s=0.0, seed=9) as server:
        config = LLMConfig(
            backend="openai", base_url=server.url, api_key=RUN_KEY, structured_output="json_schema"
        )
        started = time.monotonic()
        with (
            LLMClient(config, database_path=str(db)) as client,
            pytest.raises(model_queue.ModelWorkerUnavailable) as raised,
        ):
            client.run(make_requests(3))
        waited = time.monotonic() - started
        assert server.stats.total == 0
    message = str(raised.value)
    assert "no model worker took job" in message and "in 2 s" in message
    assert f"python -m mkailin_assets.llm.model_worker --queue {queue}" in message
    assert 1.5 <= waited < 10
    assert not list(model_queue.jobs_dir(queue).glob("*.json"))


# ---- real runs: candidate_qa of two categories on the PostgreSQL instance ---------------------
QA_CATEGORIES = ["C", "D"]
COMPARED = (
    "category, candidate_id, source_pmid, source_hash, agent, model, prompt_version,"
    " question_index, question, question_descriptors, dropped_descriptors, context_pmids,"
    " context_scores, retrieval_method, llm_call_id, status, error"
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_candidate_qa_in_two_run_processes_on_postgres_through_one_model_worker(
    tmp_path: Path, postgres_server, fresh_database, monkeypatch
) -> None:
    """(a) `dagster asset materialize` of candidate_qa for two categories, two run processes
    at once on the PostgreSQL instance with MKAILIN_MODEL_WORKERS, one model worker (live store
    in the instance's PostgreSQL): every request sent by the worker, none twice, all in
    llm_calls, and the rows equal those of the in-process path (the same stage run without
    workers on a copy of the database, against the same server)."""
    import dagster as dg

    from mkailin_assets.automation.pools import initialize_pools
    from tests.harness import materialize_process, new_pipeline, subprocess_env
    from tests.integration.test_postgres_instance import postgres_home

    if not (REPO_ROOT / "data").exists():
        pytest.skip("no sample data")
    project = new_pipeline(tmp_path / "project")
    project.ingest(QA_CATEGORIES)
    pg_env = postgres_server.env(fresh_database)
    home = postgres_home(tmp_path / "home")
    for name, value in {**pg_env, "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.get() as instance:
        assert initialize_pools(instance) == {"duckdb": 1}
    queue, marker = tmp_path / "queue", tmp_path / "duckdb-opened"

    def launch(env: dict[str, str], what: str) -> None:
        """candidate_qa of each category in its own run process, all at once."""
        runs = [materialize_process("candidate_qa", category, env) for category in QA_CATEGORIES]
        outputs = [run.communicate(timeout=240)[0] for run in runs]
        for category, run, output in zip(QA_CATEGORIES, runs, outputs, strict=True):
            assert run.returncode == 0, f"{what}: candidate_qa {category} failed:\n{output[-4000:]}"

    with FakeOpenAIServer(latency_s=0.5, seed=3) as server:
        llm = {
            "MKAILIN_LLM_BACKEND": "openai",
            "MKAILIN_LLM_BASE_URL": server.url,
            "MKAILIN_LLM_API_KEY": RUN_KEY,
            "MKAILIN_LLM_STRUCTURED_OUTPUT": "json_schema",
            "MKAILIN_SAMPLE_PER_CATEGORY": "6",
        }
        reference = project.copy_to(tmp_path / "reference")
        env = subprocess_env({**project.env, **pg_env, "DAGSTER_HOME": str(home), **llm})
        env |= {"MKAILIN_MODEL_WORKERS": str(queue), "MKAILIN_MODEL_WORKERS_TIMEOUT_S": "60"}
        worker = start_worker(
            queue,
            marker,
            worker_env(server, **pg_env, DAGSTER_HOME=str(home), MKAILIN_LLM_LIVE_STORE="auto"),
        )
        started = time.monotonic()
        launch(env, "workers")
        workers_s = time.monotonic() - started
        err = stop_worker(worker)
        paid = server.stats.by_path[CHAT_PATH]
        assert paid > 0 and max(server.stats.by_hash.values()) == 1  # none paid twice
        assert set(server.stats.auth_headers) == {f"Bearer {WORKER_KEY}"}  # the runs sent none
        assert RUN_KEY not in err and WORKER_KEY not in err

        # The in-process path: the same two runs without workers, on the copy taken before
        # (their own live store: the worker's answers in PostgreSQL would answer them).
        server.reset_stats()
        env = subprocess_env({**reference.env, **pg_env, "DAGSTER_HOME": str(home), **llm})
        env |= {"MKAILIN_LLM_LIVE_STORE": "sqlite"}
        started = time.monotonic()
        launch(env, "in-process")
        in_process_s = time.monotonic() - started
        assert server.stats.by_path[CHAT_PATH] == paid
        assert max(server.stats.by_hash.values()) == 1
        assert set(server.stats.auth_headers) == {f"Bearer {RUN_KEY}"}
    assert not marker.exists(), marker.read_text()
    order = " ORDER BY category, candidate_id"
    rows = project.rows(f"SELECT {COMPARED} FROM candidate_qa" + order)
    assert len(rows) > 0 and rows == reference.rows(f"SELECT {COMPARED} FROM candidate_qa" + order)
    calls = "SELECT call_id, status, response_content FROM llm_calls WHERE kind = 'chat' ORDER BY 1"
    recorded = project.rows(calls)
    assert len(recorded) == paid and recorded == reference.rows(calls)
    assert not list(spool_dir_for(project.db_path).glob("*.jsonl"))
    print(
        f"candidate_qa C and D: two run processes + one model worker {workers_s:.1f} s,"
        f" two run processes sending their own {in_process_s:.1f} s; {paid} requests each time"
    )


# ---- the gates and the accounting, with a worker on a thread of the test -----------------------
@pytest.fixture
def thread_worker(tmp_path: Path, monkeypatch):
    """Start a ModelWorker on a thread (its config given) with the run's MKAILIN_MODEL_WORKERS."""
    import threading

    from mkailin_assets.llm.model_worker import ModelWorker

    queue = tmp_path / "queue"
    monkeypatch.setenv("MKAILIN_MODEL_WORKERS", str(queue))
    monkeypatch.setenv("MKAILIN_MODEL_WORKERS_TIMEOUT_S", "20")
    monkeypatch.setenv("MKAILIN_LLM_LIVE_STORE", "sqlite")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    started: list[tuple[ModelWorker, threading.Thread]] = []

    def start(config: LLMConfig) -> ModelWorker:
        worker = ModelWorker(queue, config)
        thread = threading.Thread(target=worker.serve, daemon=True)
        thread.start()
        started.append((worker, thread))
        return worker

    yield start
    for worker, thread in started:
        worker.stopping = True
        thread.join(timeout=10)


def worker_config(server: FakeOpenAIServer, **overrides) -> LLMConfig:
    values = {"backend": "openai", "base_url": server.url, "api_key": WORKER_KEY}
    return LLMConfig(**{**values, "structured_output": "json_schema", **overrides})


def run_config(server: FakeOpenAIServer, **overrides) -> LLMConfig:
    values = {"backend": "openai", "base_url": server.url, "api_key": RUN_KEY}
    return LLMConfig(**{**values, "structured_output": "json_schema", **overrides})


@pytest.mark.timeout(60)
def test_embeddings_accounting_and_the_gates_hold_through_a_worker(
    tmp_path: Path, thread_worker, monkeypatch
) -> None:
    """Embeddings equal the in-process ones; the accounting the stages report is the same; the
    failure-rate gate and the budget stop the run as they do when the run sends."""
    from mkailin_assets.llm.accounting import BudgetExhausted
    from mkailin_assets.llm.client import LLMFailureRateExceeded
    from tests.fakes.openai_server import Fault

    texts, ids = ["alpha beta", "gamma", "alpha beta", "delta"], ["a", "b", "c", "d"]
    compared = ("llm.requests_sent", "llm.items_completed", "llm.prompt_tokens", "llm.failures")
    with FakeOpenAIServer(latency_s=0.0, seed=21) as server:
        thread_worker(worker_config(server, max_retries=0))
        db = new_db(tmp_path / "w.duckdb")
        with LLMClient(run_config(server), database_path=str(db)) as client:
            vectors = client.embed(texts, ids)
            results = client.run(make_requests(5))
            via_worker = client.accounting()
            con = open_connection(db)
            client.commit(con)
            con.close()
        assert set(server.stats.auth_headers) == {f"Bearer {WORKER_KEY}"}
        monkeypatch.delenv("MKAILIN_MODEL_WORKERS")
        db_local = new_db(tmp_path / "local.duckdb")
        with LLMClient(run_config(server), database_path=str(db_local)) as client:
            assert client.embed(texts, ids) == vectors and vectors[0] == vectors[2]
            assert client.run(make_requests(5)) == results
            local = client.accounting()
        assert {k: via_worker[k] for k in compared} == {k: local[k] for k in compared}
        assert via_worker["llm.model_worker_jobs"] == 2

        # The gates: every call fails at the server (the worker does not retry, its setting).
        monkeypatch.setenv("MKAILIN_MODEL_WORKERS", str(tmp_path / "queue"))
        server.add_fault(Fault("500", probability=1.0))
        config = run_config(server, max_failure_rate=0.5)
        with (
            LLMClient(config, database_path=str(db)) as client,
            pytest.raises(LLMFailureRateExceeded, match="4 of 4 LLM items failed"),
        ):
            client.run(make_requests(4, prefix="failing"))
        server.clear_faults()
        config = run_config(server, budget_tokens=200, max_tokens=30)
        with (
            LLMClient(config, database_path=str(db)) as client,
            pytest.raises(BudgetExhausted, match="budget exhausted") as raised,
        ):
            client.run(make_requests(20, prefix="budget"))
        done = [r for r in raised.value.results if r.ok]
        assert 0 < len(done) < 20
        assert client.accounting()["llm.budget_spent_tokens"] <= 200


@pytest.mark.timeout(120)
def test_sigterm_mid_job_hands_the_job_back_and_exits_cleanly(tmp_path: Path) -> None:
    """SIGTERM while a job is sent: the worker stops sending, closes its spool (what it paid
    stays), frees the job and exits 0; the next worker finishes it, paying nothing twice."""
    total = 60
    queue, marker = tmp_path / "queue", tmp_path / "duckdb-opened"
    db = new_db(tmp_path / "term.duckdb")
    with FakeOpenAIServer(latency_s=0.3, seed=17) as server:
        env = worker_env(server)
        first, run = worker_a_third_through(queue, marker, env, db, server, total, "t")
        err = stop_worker(first)
        assert "left to the queue" in err
        (spool,) = spool_dir_for(db).glob("*.jsonl")
        assert model_queue.job_state(next(model_queue.jobs_dir(queue).glob("*.json"))) == "waiting"
        paid = len(read_spool(spool).rows)
        sent_before = server.stats.by_path[CHAT_PATH]
        second = start_worker(queue, marker, env)
        report = finish(run)
        stop_worker(second)
        assert server.stats.by_path[CHAT_PATH] - sent_before == total - paid
    assert all(r["ok"] for r in report["results"]) and ok_rows(db) == total
    assert not marker.exists()


@pytest.mark.timeout(60)
def test_a_job_the_worker_cannot_answer_fails_the_run_with_its_reason(
    tmp_path: Path, thread_worker
) -> None:
    """A response model the worker cannot import (defined inside a function): the worker
    reports the error, the run fails naming it, and the worker keeps serving."""
    from dataclasses import replace

    from pydantic import BaseModel

    class Local(BaseModel):
        question: str

    with FakeOpenAIServer(latency_s=0.0, seed=23) as server:
        worker = thread_worker(worker_config(server))
        db = new_db(tmp_path / "f.duckdb")
        requests = [replace(r, response_model=Local) for r in make_requests(2, prefix="local")]
        with (
            LLMClient(run_config(server), database_path=str(db)) as client,
            pytest.raises(model_queue.ModelWorkerFailed, match="failed job .*<locals>"),
        ):
            client.run(requests)
        with LLMClient(run_config(server), database_path=str(db)) as client:
            assert all(r.ok for r in client.run(make_requests(2, prefix="after")))
        assert server.stats.by_path[CHAT_PATH] == 2 and worker.jobs_done == 2
