"""Structured-output modes against the fake OpenAI-compatible server: a server that takes
json_schema, one that refuses it the way llama-cpp-python does, one that ignores
response_format; auto probing recorded once per (endpoint, model); the cache key is the logical
request, so a change of transport buys nothing again; bounded generation."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from mkailin_assets.llm import structured
from mkailin_assets.llm.client import LLMClient, _run_sync
from mkailin_assets.llm.config import LLMConfig, RoleSettings
from mkailin_assets.llm.types import LLMRequest
from mkailin_assets.resources.duckdb_store import apply_schema, open_connection
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer, Fault


class Verdict(BaseModel):
    label: str = Field(min_length=3, pattern=r"^\S.*\?$")
    score: int


def requests(n: int, role: str = "verdict") -> list[LLMRequest]:
    return [
        LLMRequest(
            role=role,
            item_id=f"item-{i}",
            messages=[
                {"role": "system", "content": "You label things."},
                {"role": "user", "content": f"Label thing {i}."},
            ],
            response_model=Verdict,
            prompt_version="v1",
        )
        for i in range(n)
    ]


@pytest.fixture
def con(tmp_path):
    connection = open_connection(tmp_path / "so.duckdb")
    apply_schema(connection)
    yield connection
    connection.close()


def client(con, server: FakeOpenAIServer, **overrides) -> LLMClient:
    values = dict(
        backend="openai",
        base_url=server.url,
        api_key="sk-test",
        model="m1",
        max_concurrency=4,
        retry_base_delay_s=0.01,
        retry_max_delay_s=0.02,
        max_failure_rate=1.0,
        timeout_s=5.0,
    )
    values.update(overrides)
    return LLMClient(LLMConfig(**values), con)


def recorded(con) -> list[tuple]:
    return con.execute("SELECT endpoint, model, mode, detail FROM llm_endpoints").fetchall()


def formats(server_bodies: list[dict]) -> list[str | None]:
    return [(body.get("response_format") or {}).get("type") for body in server_bodies]


def capture(server: FakeOpenAIServer) -> list[dict]:
    """Every chat body the server receives, in order."""
    seen: list[dict] = []
    inner = server.responder

    def responder(body: dict) -> str:
        seen.append(body)
        return inner(body)

    server.responder = responder
    return seen


@pytest.mark.parametrize(
    ("kind", "mode", "first_run_requests"),
    [
        ("json_schema", "json_schema", 3),  # OpenAI, vLLM, llama-server: no extra request
        ("json_object", "json_object", 4),  # llama-cpp-python: one refused probe, then json_object
        ("ignore", "json_object", 5),  # format ignored (asked twice): the prompt's schema works
    ],
)
def test_auto_probes_once_records_the_mode_and_reuses_it(con, kind, mode, first_run_requests):
    with FakeOpenAIServer(structured=kind) as server:
        bodies = capture(server)
        with client(con, server) as first:
            results = first.run(requests(3))
            assert first.accounting()["llm.structured_output"] == f"m1: {mode}"
        assert all(r.ok for r in results), [r.error for r in results]
        assert server.stats.by_path[CHAT_PATH] == first_run_requests
        [(endpoint, model, chosen, detail)] = recorded(con)
        assert (endpoint, model, chosen) == (server.url, "m1", mode)
        if kind == "json_object":
            assert "Input should be 'text' or 'json_object'" in detail
        if kind == "ignore":  # the fake drops response_format before its responder sees it
            assert all(structured.SCHEMA_MARKER in b["messages"][-1]["content"] for b in bodies[2:])
        else:
            assert formats(bodies)[-2:] == [mode] * 2  # the rest went out in the recorded mode
        # Cached: nothing is sent. New items: no probe, the recorded mode at once.
        server.reset_stats()
        with client(con, server) as second:
            assert all(r.ok and r.cached for r in second.run(requests(3)))
            assert server.stats.total == 0
            assert all(r.ok for r in second.run(requests(5)[3:]))
        assert server.stats.by_path[CHAT_PATH] == 2
        assert server.stats.faults["json_schema_refused"] == 0


def test_prompt_mode_validates_and_repairs_once(con):
    with FakeOpenAIServer(structured="ignore") as server:
        bodies = capture(server)
        config = {"roles": {"verdict": RoleSettings(structured_output="prompt")}}
        # The first answer of item-0 breaks the schema; the repair turn fixes it.
        server.add_fault(
            Fault(
                "schema",
                when=lambda body, n: (
                    "thing 0." in json.dumps(body) and body["messages"][-2]["role"] != "assistant"
                ),
            )
        )
        # item-1 breaks it every time: one repair turn, then a recorded failure.
        server.add_fault(Fault("schema", when=lambda body, n: "thing 1." in json.dumps(body)))
        with client(con, server, **config) as llm:
            results = llm.run(requests(3))
    assert [r.ok for r in results] == [True, False, True]
    assert "schema violation" in results[1].error
    assert formats(bodies) == [None] * len(bodies)  # no response_format in prompt mode
    repairs = [b for b in bodies if b["messages"][-2]["role"] == "assistant"]
    # Every first turn carries the schema in its prompt (answers arrive in any order).
    first_turns = [b for b in bodies if b not in repairs]
    assert first_turns and all(
        structured.SCHEMA_MARKER in b["messages"][-1]["content"] for b in first_turns
    )
    # The responder sees answered bodies only (faulted ones are answered by the fault): item-0's
    # repair turn, which names what was wrong.
    assert len(repairs) == 1 and "score: Field required" in repairs[0]["messages"][-1]["content"]
    attempts = dict(con.execute("SELECT item_id, attempts FROM llm_calls").fetchall())
    assert attempts == {"item-0": 2, "item-1": 2, "item-2": 1}
    assert recorded(con) == []  # a forced mode is not a probe


def test_a_forced_json_schema_on_a_llama_cpp_like_server_fails_with_the_server_message(con):
    with (
        FakeOpenAIServer(structured="json_object") as server,
        client(con, server, structured_output="json_schema", max_retries=0) as llm,
    ):
        [result] = llm.run(requests(1))
    assert not result.ok and "Input should be 'text' or 'json_object'" in result.error


def test_switching_transport_costs_no_respend(con):
    """The cache key is the logical request: answered in json_object mode, the same requests
    are answered from the cache when the role is later forced to json_schema or prompt."""
    with FakeOpenAIServer(structured="json_object") as server:
        with client(con, server) as llm:
            first = llm.run(requests(4))
        sent = server.stats.total
        for mode in ("json_schema", "prompt", "json_object"):
            with client(con, server, structured_output=mode) as llm:
                again = llm.run(requests(4))
            assert [r.call_id for r in again] == [r.call_id for r in first]
            assert all(r.cached for r in again)
        assert server.stats.total == sent


def test_length_is_a_failure_retried_once_and_recorded(con):
    with FakeOpenAIServer() as server:
        server.add_fault(Fault("length", when=lambda body, n: "thing 0." in json.dumps(body)))
        server.add_fault(
            Fault("length", when=lambda body, n: n == 1 and "thing 1." in json.dumps(body))
        )
        roles = {"verdict": RoleSettings(max_tokens=64)}
        with client(con, server, roles=roles, structured_output="json_schema") as llm:
            results = llm.run(requests(2))
            assert llm.accounting()["llm.truncated"] == 3
    assert not results[0].ok and "finish_reason=length" in results[0].error
    assert "max_tokens=64" in results[0].error and results[1].ok
    rows = dict(con.execute("SELECT item_id, attempts FROM llm_calls").fetchall())
    assert rows == {"item-0": 2, "item-1": 2}


def test_a_timed_out_request_is_resent_once_at_the_same_size(con):
    with FakeOpenAIServer(hang_s=3.0) as server:
        server.add_fault(Fault("hang", when=lambda body, n: "thing 0." in json.dumps(body)))
        with client(con, server, timeout_s=0.4, structured_output="json_schema") as llm:
            [result] = llm.run(requests(1))
            assert llm.accounting()["llm.timeouts"] == 2
    assert not result.ok and "Timeout" in result.error
    assert server.stats.by_path[CHAT_PATH] == 2  # max_retries would have allowed 6


def test_the_timeout_follows_max_tokens(con):
    seen: list[float] = []
    with (
        FakeOpenAIServer() as server,
        client(con, server, structured_output="json_schema", timeout_s=120.0) as llm,
    ):
        create = llm._sender

        def spy(api, wire):
            seen.append(llm.config.request_timeout_s(wire.get("max_tokens")))
            return create(api, wire)

        llm._sender = spy
        llm.run(requests(1, role="question:x") + requests(1, role="answer"))
    assert sorted(seen) == [15.0 + 256 / 8.0, 15.0 + 512 / 8.0]


def test_the_sync_wrapper_shows_the_real_error():
    async def failing():
        raise ValueError("the real error")

    with pytest.raises(ValueError, match="the real error") as caught:
        _run_sync(failing)
    assert caught.value.__context__ is None  # no "no running event loop" chained in front


def test_wire_bodies_per_mode_keep_the_logical_request():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 10,
        "response_format": {"type": "json_schema", "json_schema": {"name": "A", "schema": schema}},
    }
    assert structured.wire_body(body, "json_schema") is body
    as_object = structured.wire_body(body, "json_object")
    assert as_object["response_format"] == {"type": "json_object", "schema": schema}
    as_prompt = structured.wire_body(body, "prompt")
    assert "response_format" not in as_prompt and as_prompt["max_tokens"] == 10
    assert as_prompt["messages"][0]["content"].startswith("hi\n\n")
    assert body["messages"][0]["content"] == "hi"  # the logical request is untouched
    assert structured.endpoint_id("http://user:pw@host:8000/v1/") == "http://host:8000/v1"
