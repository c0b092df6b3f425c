"""Two runs asking the same calls at once pay for each once (claims in the live store), and
neither holds the DuckDB file while its calls are in flight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mkailin_assets.db import open_connection
from mkailin_assets.llm.client import LLMClient
from mkailin_assets.llm.config import LLMConfig
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer
from tests.integration.test_llm_client import make_requests

REPO_ROOT = Path(__file__).resolve().parents[2]
TOTAL = 24

# A phased client, as a stage runs it: read phase, model phase (no DuckDB), write phase.
RUNNER = textwrap.dedent(
    """
    import json, sys
    from mkailin_assets.db import open_connection
    from mkailin_assets.llm.client import LLMClient
    from mkailin_assets.llm.config import LLMConfig
    from tests.integration.test_llm_client import make_requests

    db, url, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    which = sys.argv[4] if len(sys.argv) > 4 else "same"
    dsn = sys.argv[5] if len(sys.argv) > 5 else None  # the live store on PostgreSQL
    live_store = None
    if dsn:
        from mkailin_assets.llm.live_store_postgres import PostgresLiveStore
        live_store = PostgresLiveStore(dsn)
    config = LLMConfig(backend="openai", base_url=url, api_key="sk-shared", max_concurrency=8,
                       structured_output="json_schema")
    requests = make_requests(total)
    if which == "other":  # half its own calls, half shared with the first run
        requests = make_requests(total // 2, prefix="other") + requests[total // 2 :]
    with LLMClient(config, database_path=db, live_store=live_store) as client:
        con = open_connection(db, lock_timeout_s=120)
        client.prefetch(con, requests)
        con.close()
        results = client.run(requests)
        con = open_connection(db, lock_timeout_s=120)
        client.commit(con)
        con.close()
        print(json.dumps({"ok": sum(r.ok for r in results),
                          "shared": client.accounting()["llm.shared_answers"]}))
    """
)


def two_runs_at_once(db: Path, server: FakeOpenAIServer, *extra: str) -> list[dict]:
    """Two phased clients in their own processes asking the same TOTAL calls; their reports."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(db), server.url, str(TOTAL), *extra],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-2000:]
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


@pytest.mark.slow
def test_two_runs_at_once_pay_each_request_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.duckdb"
    open_connection(db).close()
    with FakeOpenAIServer(latency_s=0.5, seed=11) as server:
        reports = two_runs_at_once(db, server)
        assert all(report["ok"] == TOTAL for report in reports)
        assert server.stats.by_path[CHAT_PATH] == TOTAL  # every request paid once, not twice
        assert sum(report["shared"] for report in reports) > 0  # one run waited on the other
        con = open_connection(db)
        assert (
            con.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0] == TOTAL
        )
        con.close()
        # A third run finds everything in llm_calls and sends nothing.
        server.reset_stats()
        config = LLMConfig(backend="openai", base_url=server.url, api_key="sk-shared")
        con = open_connection(db)
        results = LLMClient(config, con).run(make_requests(TOTAL))
        assert all(r.cached for r in results) and server.stats.by_path[CHAT_PATH] == 0
        con.close()


@pytest.mark.slow
def test_two_runs_killed_at_once_lose_no_paid_answer_and_the_rerun_pays_nothing_twice(
    tmp_path: Path,
) -> None:
    """SIGKILL of two runs in their model phase: what either paid is in its spool, the next run
    imports both spools, does not wait out the dead runs' claims, and sends only the rest."""
    import signal
    import time

    from mkailin_assets.llm.spool import read_spool, spool_dir_for

    total = 60
    db = tmp_path / "killed.duckdb"
    open_connection(db).close()
    with FakeOpenAIServer(latency_s=0.3, seed=13) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", RUNNER, str(db), server.url, str(total), which],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for which in ("same", "other")
        ]
        deadline = time.monotonic() + 60
        while server.stats.by_path[CHAT_PATH] < total // 3:
            assert all(run.poll() is None for run in runs), runs[0].stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the runs never got going"
            time.sleep(0.01)
        for run in runs:
            run.send_signal(signal.SIGKILL)
        for run in runs:
            run.wait(timeout=10)
        spools = list(spool_dir_for(db).glob("*.jsonl"))
        assert len(spools) == 2
        paid = {
            row["call_id"]
            for path in spools
            for row in read_spool(path).rows
            if row["status"] == "ok"
        }
        assert paid
        sent_before = server.stats.by_path[CHAT_PATH]
        assert sent_before - len(paid) <= 2 * 8  # only what was in flight in each run
        server.reset_stats()
        started = time.monotonic()
        config = LLMConfig(backend="openai", base_url=server.url, api_key="sk-shared")
        con = open_connection(db)
        union = make_requests(total) + make_requests(total // 2, prefix="other")
        results = LLMClient(config, con).run(union)
        assert all(r.ok for r in results)
        assert server.stats.by_path[CHAT_PATH] == len(union) - len(paid)  # none paid twice
        assert sum(r.cached for r in results) == len(paid)
        assert time.monotonic() - started < 20  # the dead runs' claims were not waited out
        assert not list(spool_dir_for(db).glob("*.jsonl"))
        con.close()
