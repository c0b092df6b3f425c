"""Two runs asking the same calls at once pay for each once with the live store on the instance's
PostgreSQL (`PostgresLiveStore`, the store of an instance on PostgreSQL), as with SQLite beside the
DuckDB file (tests/integration/test_shared_calls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mkailin_assets.db import open_connection
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer
from tests.integration.test_shared_calls import TOTAL, two_runs_at_once


@pytest.mark.slow
def test_two_runs_at_once_pay_each_request_once_through_postgres(
    tmp_path: Path, postgres_server, fresh_database
) -> None:
    dsn = postgres_server.dsn(fresh_database)
    db = tmp_path / "shared.duckdb"
    open_connection(db).close()
    with FakeOpenAIServer(latency_s=0.5, seed=11) as server:
        reports = two_runs_at_once(db, server, "same", dsn)
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
