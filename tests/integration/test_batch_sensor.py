"""The LLM batch poll sensor on a real Dagster instance against the fake OpenAI server: it skips
while batches run or while a writer holds DuckDB, then collects finished batches into llm_calls
and asks each category pipeline to run again, once per set of collected batches."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest

from mkailin_assets.automation.sensors import batch_run_key, build_llm_batch_poll_sensor
from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.llm.client import BatchPending, LLMClient
from mkailin_assets.llm.config import LLMConfig
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.test_llm_client import make_requests

KEY = "sk-test-batch-sensor-2c9e"


@pytest.fixture
def server():
    with FakeOpenAIServer(seed=5) as fake:
        yield fake


@pytest.fixture
def batch_env(tmp_path, server, monkeypatch):
    db = tmp_path / "mkailin.duckdb"
    for name, value in {
        "MKAILIN_DUCKDB_PATH": str(db),
        "MKAILIN_LLM_BACKEND": "openai",
        "MKAILIN_LLM_BASE_URL": server.url,
        "MKAILIN_LLM_API_KEY": KEY,
        "MKAILIN_LLM_BATCH_MODE": "1",
    }.items():
        monkeypatch.setenv(name, value)
    con = open_connection(db)
    apply_schema(con)
    con.execute(
        "INSERT INTO raw_abstracts VALUES"
        " ('C', 1, 't', 'a', ['D1'], ['D1'], ['C01'], 'h', now()),"
        " ('D', 2, 't', 'a', ['D2'], ['D2'], ['D01'], 'h', now())"
    )
    yield db, con
    con.close()


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance):
    """One tick resolved against the project's definitions (its category pipeline job)."""
    from mkailin_assets.definitions import defs

    context = dg.build_sensor_context(instance=instance, definitions=defs)
    return sensor.evaluate_tick(context)


def test_sensor_waits_for_running_batches_then_requests_each_category_once(
    batch_env, server, instance
):
    db, con = batch_env
    requests = make_requests(3)
    with pytest.raises(BatchPending) as pending:
        LLMClient(LLMConfig.from_env(), con).run(requests)
    sensor = build_llm_batch_poll_sensor(mode="sensor", minimum_interval_seconds=30)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING  # batch mode switches it on

    server.batch_status = "in_progress"
    data = tick(sensor, instance)
    assert not data.run_requests and "1 batch(es) still running" in data.skip_message

    server.batch_status = "completed"
    data = tick(sensor, instance)
    expected = {(category, batch_run_key(category, pending.value.batch_ids)) for category in "CD"}
    assert {(r.partition_key, r.run_key) for r in data.run_requests} == expected
    assert all(r.tags["mkailin/trigger"] == "llm_batch" for r in data.run_requests)
    ok = con.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok' AND via = 'batch'")
    assert ok.fetchone()[0] == 3

    data = tick(sensor, instance)  # nothing new: no second round of runs
    assert not data.run_requests and data.skip_message

    results = LLMClient(LLMConfig.from_env(), con).run(requests)
    assert all(result.ok and result.cached for result in results)
    assert server.stats.by_path.get("/v1/chat/completions", 0) == 0


def test_sensor_skips_while_another_process_writes_duckdb(batch_env, instance):
    db, con = batch_env
    con.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        sensor = build_llm_batch_poll_sensor(mode="sensor")
        started = time.monotonic()
        data = tick(sensor, instance)
        assert not data.run_requests
        assert "DuckDB is busy with a writer" in data.skip_message
        assert time.monotonic() - started < 30  # it gives up quickly and tries on the next tick
    finally:
        holder.kill()
        holder.wait()
    with duckdb.connect(str(db)) as reopened:  # the lock is released again
        assert reopened.execute("SELECT count(*) FROM raw_abstracts").fetchone()[0] == 2
