"""The real llama-cpp-python server serving SmolLM2-135M-Instruct (the `local` extra): one
category of a few abstracts through the openai backend in `auto` mode, end to end, then again
with nothing sent; and the local backend's server gone when its run process ends or is killed.

A 135M model writes weak questions: the test asks for rows or recorded rejections with reasons,
not for good data."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mkailin_assets.llm.config import LocalModelSettings
from mkailin_assets.llm.local_server import LocalModelError, LocalServer, llama_available
from mkailin_assets.resources.method import MethodConfig
from tests.harness import (
    BASELINE_FILES,
    QA_ASSETS,
    materialization_metadata,
    new_pipeline,
)

pytestmark = pytest.mark.skipif(
    not llama_available(),
    reason="llama_cpp is not importable: install the local extra (pip install -e '.[dev,local]')",
)

CATEGORY = "K"
SETTINGS = LocalModelSettings(threads=2, context_size=4096)


def _server_or_skip() -> LocalServer:
    try:
        return LocalServer(SETTINGS)
    except LocalModelError as error:
        pytest.skip(f"no local model file: {error}")


@pytest.fixture(scope="module")
def llama_server():
    server = _server_or_skip().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def runs(llama_server, tmp_path_factory):
    method = MethodConfig(sample_per_category=3)
    pipeline = new_pipeline(
        tmp_path_factory.mktemp("local_llm"),
        method=method,
        MKAILIN_LLM_BACKEND="openai",
        MKAILIN_LLM_BASE_URL=llama_server.url,
        MKAILIN_LLM_MODEL=llama_server.alias,
        MKAILIN_LLM_MAX_FAILURE_RATE="1.0",
        MKAILIN_LLM_MAX_CONCURRENCY="1",
    )
    pipeline.ingest([CATEGORY], BASELINE_FILES)
    first = pipeline.materialize(QA_ASSETS, CATEGORY, raise_on_error=False)
    pipeline.transport_failures = _transport_failures(pipeline)
    second = pipeline.materialize(QA_ASSETS, CATEGORY, raise_on_error=False)
    return pipeline, first, second


def _transport_failures(pipeline) -> int:
    """Calls that never got an answer (timeouts, HTTP errors): the only ones sent again."""
    return pipeline.scalar("SELECT count(*) FROM llm_calls WHERE status = 'failed'")


def test_auto_mode_finds_json_object_on_llama_cpp_python(runs, llama_server):
    pipeline, _, _ = runs
    [(endpoint, model, mode, detail)] = pipeline.rows(
        "SELECT endpoint, model, mode, detail FROM llm_endpoints"
    )
    assert (endpoint, model, mode) == (llama_server.url, llama_server.alias, "json_object")
    assert "json_schema" in detail  # the refusal that was seen is kept


def test_every_asset_has_rows_or_recorded_rejections_with_reasons(runs):
    pipeline, first, _ = runs
    candidates = materialization_metadata(first, "candidate_qa")
    assert candidates["sources"] == 3
    rejected = candidates["rejected_by_reason"]
    assert candidates["candidates_ok"] + sum(rejected.values()) == 6  # 3 abstracts x 2 agents
    failed = pipeline.rows(
        "SELECT error FROM candidate_qa WHERE category = ? AND status <> 'ok'", [CATEGORY]
    )
    assert all(error for (error,) in failed)  # every rejection says why
    assert candidates["llm.requests_sent"] >= 6
    if candidates["candidates_ok"]:
        evaluated = materialization_metadata(first, "evaluated_qa")
        assert evaluated["candidates"] == candidates["candidates_ok"]  # evaluated: the ok ones
        rows = pipeline.scalar("SELECT count(*) FROM evaluated_qa WHERE category = ?", [CATEGORY])
        assert rows == evaluated["candidates"]
    calls = pipeline.rows("SELECT status, error FROM llm_calls WHERE via = 'request'")
    assert calls and all(status == "ok" or error for status, error in calls)


def test_the_second_run_sends_no_request(runs):
    """Answers and rejected answers (the small model ran into max_tokens twice, or wrote what
    the schema refuses) are final and cached: a re-run sends nothing. Only a call that got no
    answer at all (a timeout on a loaded machine) would go out again."""
    pipeline, first, second = runs
    assert pipeline.transport_failures == 0, "the server answered every call of the first run"
    for asset in QA_ASSETS:
        if not _materialized(second, asset):
            assert not _materialized(first, asset), asset  # blocked the same way both times
            continue
        meta = materialization_metadata(second, asset)
        assert meta.get("llm.requests_sent", 0) == 0, asset
    answered = pipeline.scalar(
        "SELECT count(*) FROM llm_calls WHERE status IN ('ok', 'rejected') AND role LIKE 'question%'"
    )
    assert materialization_metadata(second, "candidate_qa")["llm.cache_hits"] >= answered


def _materialized(result, asset: str) -> bool:
    try:
        materialization_metadata(result, asset)
    except (KeyError, StopIteration, IndexError, ValueError):
        return False
    return True


# ---- benchmark_eval on the real model: a small subset through the same client -------------------
EVAL_ITEMS = 3


@pytest.fixture(scope="module")
def evaluated(llama_server, tmp_path_factory):
    models = [
        {"name": "smollm2", "base_url": llama_server.url, "model": llama_server.alias,
         "max_tokens": 48}
    ]  # fmt: skip
    pipeline = new_pipeline(
        tmp_path_factory.mktemp("local_eval"),
        MKAILIN_EVAL_MODELS=json.dumps(models),
        MKAILIN_EVAL_LIMIT=str(EVAL_ITEMS),
        MKAILIN_EVAL_SPLIT="test",
        MKAILIN_LLM_MAX_FAILURE_RATE="1.0",
        MKAILIN_LLM_MAX_CONCURRENCY="1",
    )
    pipeline.materialize(["mesh_vocabulary"])  # the first-run order: MeSH first
    pipeline.load_files(BASELINE_FILES)  # the corpus PubMedQA* retrieves from
    pipeline.instance.add_dynamic_partitions("benchmark_models", ["smollm2"])
    first = pipeline.materialize(["benchmark_eval"], "smollm2", raise_on_error=False)
    pipeline.transport_failures = _transport_failures(pipeline)
    second = pipeline.materialize(["benchmark_eval"], "smollm2", raise_on_error=False)
    return pipeline, first, second


def test_benchmark_eval_scores_a_subset_of_pubmedqa_on_the_real_model(evaluated, llama_server):
    pipeline, first, _ = evaluated
    assert first.success
    results = pipeline.rows(
        "SELECT setting, n_expected FROM benchmark_results "
        "WHERE model = 'smollm2' AND split = ? AND run_id = ? ORDER BY setting",
        [f"test_first_{EVAL_ITEMS}", first.run_id],  # a limited subset says so in its label
    )
    assert [row[0] for row in results] == ["no_context", "reasoning_required", "retrieved"]
    assert all(expected == EVAL_ITEMS for _, expected in results)
    answers = pipeline.rows(
        "SELECT status, parse, raw_text, answer FROM benchmark_answers WHERE model = 'smollm2'"
    )
    assert len(answers) == 3 * EVAL_ITEMS  # every item of every setting: an answer or a reason
    assert all(
        status in ("answered", "rejected", "failed") and parse for status, parse, _, _ in answers
    )
    assert any(raw for _, _, raw, _ in answers)  # the model really answered something
    (endpoint,) = pipeline.rows("SELECT DISTINCT endpoint FROM benchmark_results")[0]
    assert endpoint == llama_server.url


def test_benchmark_eval_rerun_on_the_real_model_sends_no_request(evaluated):
    pipeline, _, second = evaluated
    assert pipeline.transport_failures == 0, "the server answered every call of the first run"
    meta = materialization_metadata(second, "benchmark_eval")
    assert meta["llm.requests_sent"] == 0  # answers and rejections come from the cache
    answered = pipeline.scalar("SELECT count(*) FROM llm_calls WHERE status IN ('ok', 'rejected')")
    assert meta["llm.cache_hits"] >= answered > 0


# ---- the local backend's server lifecycle ----------------------------------------------------
RUN = textwrap.dedent(
    """
    import sys, time
    from pydantic import BaseModel
    from mkailin_assets.llm.client import LLMClient
    from mkailin_assets.llm.config import LLMConfig, LocalModelSettings
    from mkailin_assets.llm.local_server import shared_server
    from mkailin_assets.llm.types import LLMRequest
    from mkailin_assets.resources.duckdb_store import open_connection

    class Word(BaseModel):
        word: str

    config = LLMConfig(backend="local", local=LocalModelSettings(threads=1, context_size=1024),
                       roles={"say": {"max_tokens": 16}})
    con = open_connection(sys.argv[1])
    client = LLMClient(config, con)
    [result] = client.run([LLMRequest(role="say", item_id="1", prompt_version="v1",
                                      response_model=Word,
                                      messages=[{"role": "user", "content": "Say one word."}])])
    server = shared_server(config.local)
    print(server.process.pid, server.port, result.ok, flush=True)
    if sys.argv[2] == "wait":
        time.sleep(600)
    """
)


def _gone(pid: int, port: int, within_s: float = 15.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            state = "gone"
        with socket.socket() as sock:
            listening = sock.connect_ex(("127.0.0.1", port)) == 0
        if state in ("gone", "Z", "X") and not listening:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_the_local_server_stops_with_its_run(tmp_path, ending):
    _server_or_skip()
    run = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN,
            str(tmp_path / "l.duckdb"),
            "wait" if ending == "sigkill" else "exit",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "MKAILIN_LLM_BACKEND": "local"},
    )
    line = run.stdout.readline().split()
    assert len(line) == 3, "the run printed no server pid"
    pid, port = int(line[0]), int(line[1])
    if ending == "sigkill":
        os.kill(run.pid, signal.SIGKILL)  # no exit handler runs
    run.wait(timeout=60)
    assert _gone(pid, port), f"local model server {pid} still running after the run ended"
