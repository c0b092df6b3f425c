"""The LLM client against the local fake OpenAI server: the real `openai` package over HTTP."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from mkailin_assets.db import apply_schema, open_connection, transaction
from mkailin_assets.llm.accounting import BudgetExhausted
from mkailin_assets.llm.batch import poll_batches
from mkailin_assets.llm.client import BatchPending, LLMClient, LLMFailureRateExceeded
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.offline import register_offline
from mkailin_assets.llm.types import OFFLINE_MODEL, LLMRequest
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer, Fault

KEY = "sk-test-LEAKCANARY-7f3a9c"


class Question(BaseModel):
    question: str
    confidence: float


register_offline(
    "test", lambda inputs: {"question": f"What about {inputs['title']}?", "confidence": 1}
)


def make_requests(n: int, prefix: str = "abstract") -> list[LLMRequest]:
    return [
        LLMRequest(
            role="test:clinical",
            item_id=f"{prefix}-{i}",
            messages=[{"role": "user", "content": f"{prefix} number {i}"}],
            response_model=Question,
            prompt_version="v1",
            inputs={"title": f"{prefix} {i}"},
        )
        for i in range(n)
    ]


def content_of(body: dict) -> str:
    return body["messages"][0]["content"]


@pytest.fixture
def server():
    with FakeOpenAIServer(seed=3) as fake:
        yield fake


@pytest.fixture
def con(tmp_db: Path):
    connection = open_connection(tmp_db)
    apply_schema(connection)
    yield connection
    connection.close()


def make_client(con, server, **overrides) -> LLMClient:
    values = dict(
        backend="openai",
        base_url=server.url,
        api_key=KEY,
        max_concurrency=8,
        retry_base_delay_s=0.01,
        retry_max_delay_s=0.05,
        max_failure_rate=1.0,
        timeout_s=5.0,
        # These tests script faults from the first request on; probing (auto) has its own tests.
        structured_output="json_schema",
    )
    values.update(overrides)
    return LLMClient(LLMConfig(**values), con)


def rows(con, where: str = "true") -> list[tuple]:
    return con.execute(
        f"SELECT call_id, status, error, response_content, attempts FROM llm_calls WHERE {where}"
    ).fetchall()


def test_results_in_order_cached_and_never_resent(con, server) -> None:
    requests = make_requests(20)
    client = make_client(con, server)
    first = client.run(requests)
    assert [r.item_id for r in first] == [r.item_id for r in requests]
    assert all(r.ok and not r.cached and isinstance(r.parsed, Question) for r in first)
    assert server.stats.by_path[CHAT_PATH] == 20
    client.close()
    with make_client(con, server) as second:
        again = second.run(list(reversed(requests)))
    assert all(r.ok and r.cached for r in again)
    assert [r.call_id for r in again] == [r.call_id for r in reversed(first)]
    assert server.stats.by_path[CHAT_PATH] == 20  # the server saw nothing new
    assert con.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0] == 20


def test_identical_requests_in_one_run_are_sent_once(con, server) -> None:
    request = make_requests(1)[0]
    twin = LLMRequest(**{**request.__dict__, "item_id": "other"})
    results = make_client(con, server).run([request, twin])
    assert [r.item_id for r in results] == [request.item_id, "other"]
    assert results[0].call_id == results[1].call_id
    assert server.stats.total == 1


def test_retries_500_and_timeouts_then_succeed(con, server) -> None:
    server.add_fault(
        Fault("500", when=lambda body, attempt: attempt == 1 and content_of(body).endswith("1"))
    )
    server.add_fault(
        Fault("hang", when=lambda body, attempt: attempt == 1 and content_of(body).endswith("2"))
    )
    server.hang_s = 3.0
    client = make_client(con, server, timeout_s=0.5)
    results = client.run(make_requests(3))
    assert all(r.ok for r in results)
    assert server.stats.total == 5
    attempts = dict(con.execute("SELECT item_id, attempts FROM llm_calls").fetchall())
    assert attempts == {"abstract-0": 1, "abstract-1": 2, "abstract-2": 2}
    assert client.accounting()["llm.retries"] == 2


def test_retry_after_is_honoured(con, server) -> None:
    server.add_fault(Fault("429", retry_after="1", when=lambda body, attempt: attempt == 1))
    started = time.perf_counter()
    results = make_client(con, server).run(make_requests(2))
    assert all(r.ok for r in results)
    assert time.perf_counter() - started >= 1.0  # back-off alone would have waited <= 0.05 s


def test_concurrency_never_exceeds_the_limit_under_pressure(con, server) -> None:
    server.latency_s, server.latency_jitter_s = 0.01, 0.02
    server.add_fault(Fault("429", probability=0.3, retry_after="0"))
    server.add_fault(Fault("503", probability=0.1))
    client = make_client(con, server, max_concurrency=5, max_retries=20)
    results = client.run(make_requests(120))
    assert all(r.ok for r in results)
    assert 1 <= server.stats.max_in_flight <= 5
    assert client.accounting()["llm.max_in_flight"] <= 5


def test_failures_are_recorded_and_a_rerun_resends_only_them(con, server) -> None:
    failing = {"abstract-3", "abstract-7"}
    server.add_fault(
        Fault(
            "500", when=lambda body, attempt: content_of(body).replace(" number ", "-") in failing
        )
    )
    client = make_client(con, server, max_retries=2)
    results = client.run(make_requests(10))
    failed = [r for r in results if not r.ok]
    assert {r.item_id for r in failed} == failing
    for result in failed:
        assert result.item_id in result.error and "test:clinical" in result.error
        assert "HTTP 500" in result.error and "3 attempt" in result.error
    assert len(rows(con, "status = 'failed'")) == 2
    assert client.accounting()["llm.failures"] == 2
    server.clear_faults()
    server.reset_stats()
    rerun = make_client(con, server).run(make_requests(10))
    assert all(r.ok for r in rerun)
    assert server.stats.total == 2  # only the two failed items went out again
    assert len(rows(con, "status = 'failed'")) == 0


def test_failure_rate_above_threshold_raises_after_recording(con, server) -> None:
    server.add_fault(Fault("500", probability=1.0))
    client = make_client(con, server, max_retries=0, max_failure_rate=0.5)
    with pytest.raises(LLMFailureRateExceeded, match="4 of 4 LLM items failed") as raised:
        client.run(make_requests(4))
    assert len(raised.value.results) == 4
    assert len(rows(con, "status = 'failed'")) == 4


@pytest.mark.parametrize("kind", ["schema", "malformed", "length"])
def test_bad_output_is_retried_then_accepted(con, server, kind) -> None:
    server.add_fault(Fault(kind, when=lambda body, attempt: attempt == 1))
    client = make_client(con, server, max_schema_retries=1)
    results = client.run(make_requests(2))
    assert all(r.ok for r in results)
    assert server.stats.total == 4
    retried = "llm.truncated" if kind == "length" else "llm.schema_retries"
    assert client.accounting()[retried] == 2


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("schema", "schema violation"),
        ("malformed", "invalid JSON"),
        ("length", "finish_reason=length"),
    ],
)
def test_persistent_bad_output_fails_with_raw_text_kept(con, server, kind, needle) -> None:
    server.add_fault(Fault(kind, probability=1.0))
    result = make_client(con, server, max_schema_retries=2).run(make_requests(1))[0]
    assert not result.ok and needle in result.error and result.content
    sent = 2 if kind == "length" else 3  # a truncation is retried once, not as a schema error
    assert server.stats.total == sent
    ((_, status, error, raw, attempts),) = rows(con)
    assert status == "rejected" and needle in error and raw == result.content and attempts == sent


def test_a_rejected_answer_is_final_unless_resending_is_asked(con, server) -> None:
    """The model's own unusable answer is not bought again on a re-run (its rejection comes
    from the cache, still failed, with its reason); MKAILIN_LLM_RESEND_REJECTED sends it."""
    server.add_fault(Fault("schema", probability=1.0))
    first = make_client(con, server, max_schema_retries=0).run(make_requests(2))
    assert not any(r.ok for r in first)
    server.reset_stats()
    again = make_client(con, server, max_schema_retries=0)
    results = again.run(make_requests(2))
    assert server.stats.total == 0
    assert [r.error for r in results] == [r.error for r in first]
    assert all(r.cached and not r.ok for r in results)
    assert again.accounting()["llm.rejections_cached"] == 2
    server.clear_faults()
    resent = make_client(con, server, resend_rejected=True).run(make_requests(2))
    assert server.stats.total == 2 and all(r.ok for r in resent)
    assert len(rows(con, "status = 'rejected'")) == 0


def test_budget_stops_sending_and_a_rerun_resumes(con, server) -> None:
    # Each request costs about 20 tokens at the fake server and is estimated, before it is sent,
    # at its prompt plus max_tokens: 200 tokens buy a handful.
    client = make_client(con, server, budget_tokens=200, max_tokens=30, max_concurrency=1)
    with pytest.raises(BudgetExhausted, match="budget exhausted") as raised:
        client.run(make_requests(20))
    done = [r for r in raised.value.results if r.ok]
    assert 0 < len(done) < 20
    assert server.stats.total == len(done)
    assert client.accounting()["llm.budget_state"] == "exhausted"
    assert client.accounting()["llm.budget_spent_tokens"] <= 200
    server.reset_stats()
    results = make_client(con, server, max_tokens=30).run(make_requests(20))
    assert all(r.ok for r in results)
    assert server.stats.total == 20 - len(done)


def test_accounting_figures(con, server) -> None:
    server.latency_s = 0.02
    client = make_client(con, server)
    results = client.run(make_requests(10))
    client.run(make_requests(10))  # all cached
    meta = client.accounting()
    model = "gpt-4o-mini"
    assert meta[f"openai.{model}.calls"] == 10
    assert meta[f"openai.{model}.prompt_tokens"] == sum(r.prompt_tokens for r in results)
    assert meta[f"openai.{model}.total_tokens"] == sum(
        r.prompt_tokens + r.completion_tokens for r in results
    )
    assert meta["llm.requests_sent"] == 10 and meta["llm.cache_hits"] == 10
    assert meta["llm.cost_usd"] == pytest.approx(sum(r.cost_usd for r in results), abs=1e-6)
    assert meta["llm.cost_usd"] > 0
    assert 20 <= meta["llm.latency_p50_ms"] <= meta["llm.latency_p95_ms"]
    assert meta["llm.throughput_rps"] > 0
    assert all(isinstance(v, int | float | str) for v in meta.values())


def test_cache_rows_commit_while_the_caller_holds_a_transaction(con, server, tmp_db) -> None:
    con.execute("CREATE TABLE caller_table (x INTEGER)")
    with pytest.raises(RuntimeError, match="caller failed"), transaction(con):
        con.execute("INSERT INTO caller_table VALUES (1)")
        assert all(r.ok for r in make_client(con, server).run(make_requests(3)))
        raise RuntimeError("caller failed")
    assert con.execute("SELECT count(*) FROM caller_table").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0] == 3


def test_offline_backend_is_deterministic_cached_and_marked(con, tmp_path) -> None:
    config = LLMConfig(backend="offline")
    first = LLMClient(config, con).run(make_requests(5))
    assert all(r.ok and r.model == OFFLINE_MODEL and r.prompt_tokens == 0 for r in first)
    assert first[2].parsed == Question(question="What about abstract 2?", confidence=1.0)
    other = open_connection(tmp_path / "other.duckdb")
    second = LLMClient(config, other).run(make_requests(5))
    assert [r.content for r in second] == [r.content for r in first]
    assert [r.call_id for r in second] == [r.call_id for r in first]
    again = LLMClient(config, con).run(make_requests(5))
    assert all(r.cached for r in again)
    models = con.execute("SELECT DISTINCT model, via FROM llm_calls").fetchall()
    assert models == [(OFFLINE_MODEL, "offline")]


def test_offline_without_implementation_fails_clearly(con) -> None:
    request = LLMRequest(
        role="unregistered", item_id="p1", messages=[], response_model=Question, prompt_version="v1"
    )
    client = LLMClient(LLMConfig(backend="offline", max_failure_rate=1.0), con)
    result = client.run([request])[0]
    assert not result.ok and "no offline implementation" in result.error and "'p1'" in result.error


def test_embeddings_online_and_offline_are_cached(con, server) -> None:
    client = make_client(con, server)
    vectors = client.embed(["alpha beta", "gamma", "alpha beta"], ["a", "b", "c"])
    assert vectors[0] == vectors[2] and len(vectors[0]) == 8
    assert server.stats.by_path["/v1/embeddings"] == 1
    assert make_client(con, server).embed(["gamma"], ["b"]) == [vectors[1]]
    assert server.stats.by_path["/v1/embeddings"] == 1
    offline = LLMClient(LLMConfig(backend="offline"), con).embed(["alpha beta"], ["a"])
    assert len(offline[0]) == 256


def test_batch_mode_submits_polls_resubmits_and_rows_match_request_path(con, server) -> None:
    server.add_fault(
        Fault("500", when=lambda body, attempt: attempt == 1 and content_of(body).endswith("4"))
    )
    client = make_client(con, server, batch_mode=True)
    requests = make_requests(5)
    with pytest.raises(BatchPending) as pending:
        client.run(requests)
    assert pending.value.pending == 5 and len(pending.value.batch_ids) == 1
    with pytest.raises(BatchPending):  # a second run does not submit the same items again
        make_client(con, server, batch_mode=True).run(requests)
    assert server.stats.by_path["/v1/batches"] == 1
    config = client.config
    report = poll_batches(config, con)
    assert report.rows_ok == 4 and report.rows_failed == 1 and len(report.resubmitted) == 1
    report = poll_batches(config, con)
    assert report.rows_ok == 1 and not report.resubmitted
    results = make_client(con, server, batch_mode=True).run(requests)
    assert all(r.ok and r.cached for r in results)
    batch_row = con.execute("SELECT * FROM llm_calls WHERE item_id = 'abstract-0'").df().iloc[0]
    per_request = make_requests(1, prefix="direct")
    make_client(con, server).run(per_request)
    request_row = con.execute("SELECT * FROM llm_calls WHERE item_id = 'direct-0'").df().iloc[0]
    assert list(batch_row.index) == list(request_row.index)
    assert batch_row["via"] == "batch" and request_row["via"] == "request"
    for column in (
        "kind",
        "role",
        "model",
        "status",
        "response_content",
        "response_json",
        "finish_reason",
    ):
        assert batch_row[column] == request_row[column], column


def test_expired_batch_items_are_resubmitted(con, server) -> None:
    server.batch_status = "expired"
    client = make_client(con, server, batch_mode=True)
    with pytest.raises(BatchPending):
        client.run(make_requests(2))
    report = poll_batches(client.config, con)
    assert report.rows_failed == 2 and len(report.resubmitted) == 1
    server.batch_status = "completed"
    assert poll_batches(client.config, con).rows_ok == 2


def test_api_key_never_leaks(con, server, caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG)
    server.add_fault(Fault("401", when=lambda body, attempt: content_of(body).endswith("0")))
    server.add_fault(Fault("500", when=lambda body, attempt: attempt == 1))
    client = make_client(con, server)
    results = client.run(make_requests(4))
    client.embed(["text"], ["t"])
    assert not results[0].ok and "Incorrect API key" in results[0].error
    assert any(KEY in header for header in server.stats.auth_headers)  # it was sent...
    captured = capfd.readouterr()
    texts = [caplog.text, captured.out, captured.err, repr(client.accounting()), repr(results)]
    texts.append(repr(client.config))
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
        texts.append(con.execute(f"SELECT * FROM {table}").df().to_csv())
    for text in texts:  # ...and never kept anywhere else
        assert KEY not in text
        assert "LEAKCANARY" not in text


def test_mixed_faults_at_30_percent_complete_and_rerun_resends_only_failures(con, server) -> None:
    server.hang_s = 2.0
    for kind in ("429", "500", "hang", "malformed", "schema", "length"):
        server.add_fault(Fault(kind, probability=0.05, retry_after="0" if kind == "429" else None))
    client = make_client(con, server, timeout_s=0.3, max_retries=1, max_schema_retries=0)
    results = client.run(make_requests(60))
    failed = {r.item_id for r in results if not r.ok}
    assert failed, "with one retry at a 30% fault rate some items must fail"

    def items(status: str) -> set[str]:
        query = "SELECT item_id FROM llm_calls WHERE status = ?"
        return {row[0] for row in con.execute(query, [status]).fetchall()}

    transport, rejected = items("failed"), items("rejected")
    assert transport | rejected == failed and not transport & rejected
    assert client.accounting()["llm.failures"] == len(failed)
    server.clear_faults()
    server.reset_stats()
    rerun = make_client(con, server).run(make_requests(60))
    # transport failures go out again; rejected answers are final and come from the cache
    assert {r.item_id for r in rerun if not r.ok} == rejected
    assert server.stats.total == len(transport)


def test_a_server_that_answers_one_at_a_time_gets_no_queue_of_timeouts(con) -> None:
    """llama-cpp-python's server answers one request at a time: sent 16 at once, the last would
    wait 16 x 0.3 s, past its 2 s timeout. The client finds what the server takes, times out no
    request for time spent behind its siblings, and records the concurrency for the endpoint."""
    with FakeOpenAIServer(latency_s=0.3, seed=5, serial=True) as serial:
        client = make_client(
            con, serial, max_concurrency=16, timeout_s=2.0, structured_output="auto"
        )
        results = client.run(make_requests(20))
        assert all(r.ok for r in results)
        assert client.timeouts == 0 and serial.stats.total == 20
        settled = con.execute("SELECT concurrency FROM llm_endpoints").fetchall()
        assert len(settled) == 1 and 1 <= settled[0][0] <= 3
        assert "llm.concurrency" in client.accounting()
        # The next run starts from what was learned: no burst of 16 into the server's queue.
        again = make_client(con, serial, max_concurrency=16, timeout_s=2.0)
        assert all(r.ok for r in again.run(make_requests(20, prefix="second")))
        assert again.max_in_flight <= 4 and again.timeouts == 0
