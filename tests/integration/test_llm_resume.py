"""Resume after a crash: SIGKILL a run midway; the re-run sends only what was not yet cached."""

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
from mkailin_assets.llm.client import LLMClient
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.spool import spool_dir_for
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer
from tests.integration.test_llm_client import make_requests

REPO_ROOT = Path(__file__).resolve().parents[2]
TOTAL = 200
CONCURRENCY = 4  # the runner's max_concurrency
LATENCY_S = 0.02

RUNNER = textwrap.dedent(
    """
    import sys
    from mkailin_assets.llm.client import LLMClient
    from mkailin_assets.llm.config import LLMConfig
    from mkailin_assets.db import open_connection
    from tests.integration.test_llm_client import make_requests

    db, url, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    con = open_connection(db)
    config = LLMConfig(backend="openai", base_url=url, api_key="sk-resume", max_concurrency=4)
    LLMClient(config, con).run(make_requests(total))
    """
)


@pytest.mark.slow
def test_sigkill_midway_then_rerun_sends_only_the_rest(tmp_db: Path) -> None:
    with FakeOpenAIServer(latency_s=LATENCY_S, seed=5) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(tmp_db), server.url, str(TOTAL)],
            cwd=REPO_ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while server.stats.by_path[CHAT_PATH] < TOTAL // 3:
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        sent_before_kill = server.stats.by_path[CHAT_PATH]

        con = open_connection(tmp_db)
        # The paid answers are in the killed run's spool (fsynced one by one), not yet in DuckDB.
        spools = list(spool_dir_for(tmp_db).glob("*.jsonl"))
        assert len(spools) == 1
        lines = spools[0].read_text().splitlines()[1:]
        cached = sum(1 for line in lines if json.loads(line)["status"] == "ok")
        assert 0 < cached < TOTAL
        assert con.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == 0
        # Lost at the kill: the requests in flight, and answers received but not yet on disk
        # (each waits for its fsync on a worker thread; a loaded machine delays a few).
        assert sent_before_kill - cached <= 3 * CONCURRENCY

        server.reset_stats()
        config = LLMConfig(
            backend="openai", base_url=server.url, api_key="sk-resume", max_concurrency=4
        )
        results = LLMClient(config, con).run(make_requests(TOTAL))
        assert all(r.ok for r in results)
        assert server.stats.by_path[CHAT_PATH] == TOTAL - cached  # nothing cached is re-sent
        assert sum(r.cached for r in results) == cached
        assert not list(spool_dir_for(tmp_db).glob("*.jsonl"))  # imported, then removed
        assert (
            con.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0] == TOTAL
        )
        con.close()
