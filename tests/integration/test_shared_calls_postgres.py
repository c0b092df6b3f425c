"""Two runs asking the same calls at once pay for each once with the live store on the instance's
PostgreSQL (`PostgresLiveStore`, the store of an instance on PostgreSQL), as with SQLite beside the
DuckDB file (tests/integration/test_shared_calls.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mkailin_assets.db import open_connection
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[2]
TOTAL = 24

# A phased client, as a stage runs it, with its claims and answers in PostgreSQL.
RUNNER = textwrap.dedent(
    """
    import json, sys
    from mkailin_assets.db import open_connection
    from mkailin_assets.llm.client import LLMClient
    from mkailin_assets.llm.config import LLMConfig
    from mkailin_assets.llm.live_store_postgres import PostgresLiveStore
    from tests.integration.test_llm_client import make_requests

    db, url, dsn, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    config = LLMConfig(backend="openai", base_url=url, api_key="sk-shared", max_concurrency=8,
                       structured_output="json_schema")
    requests = make_requests(total)
    with LLMClient(config, database_path=db, live_store=PostgresLiveStore(dsn)) as client:
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


@pytest.mark.slow
def test_two_runs_at_once_pay_each_request_once_through_postgres(
    tmp_path: Path, postgres_server, fresh_database
) -> None:
    dsn = postgres_server.dsn(fresh_database)
    db = tmp_path / "shared.duckdb"
    open_connection(db).close()
    with FakeOpenAIServer(latency_s=0.5, seed=11) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", RUNNER, str(db), server.url, dsn, str(TOTAL)],
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
        reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
        assert all(report["ok"] == TOTAL for report in reports)
        assert server.stats.by_path[CHAT_PATH] == TOTAL  # every request paid once, not twice
        assert sum(report["shared"] for report in reports) > 0  # one run waited on the other
    con = open_connection(db)
    assert con.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0] == TOTAL
    con.close()
    # The answers were published in PostgreSQL, not in a SQLite file beside the database.
    import psycopg2

    pg = psycopg2.connect(dsn)
    with pg.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM mkailin_llm_live")
        assert cursor.fetchone()[0] == TOTAL
        cursor.execute("SELECT count(*) FROM mkailin_llm_claims")
        assert cursor.fetchone()[0] == 0, "publishing ended every claim"
    pg.close()
    assert not list(tmp_path.glob("*.live.sqlite"))
