"""Pure parts of the LLM client: cache keys, retry timing, AIMD limiter, validation, offline."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time

import pytest
from pydantic import BaseModel

from mkailin_assets.llm.accounting import Accounting, Budget
from mkailin_assets.llm.cache import call_key
from mkailin_assets.llm.client import prepare_chat, validate_content
from mkailin_assets.llm.concurrency import AdaptiveLimiter, backoff_seconds, retry_after_seconds
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.offline import (
    OfflineError,
    hashed_embedding,
    offline_content,
    register_offline,
)
from mkailin_assets.llm.types import LLMRequest


class Answer(BaseModel):
    answer: str
    confidence: float


def _request(**changes) -> LLMRequest:
    values = dict(
        role="answer",
        item_id="1",
        messages=[{"role": "user", "content": "Q?"}],
        response_model=Answer,
        prompt_version="v1",
    )
    values.update(changes)
    return LLMRequest(**values)


def test_cache_key_is_stable_and_sensitive_to_everything_that_matters() -> None:
    base = ("chat", "m", {"temperature": 0.0}, [{"role": "user", "content": "x"}], None, "v1")
    assert call_key(*base) == call_key(*base)
    assert call_key(
        "chat", "m", {"temperature": 0.0}, [{"content": "x", "role": "user"}], None, "v1"
    ) == call_key(*base)
    variants = [
        ("embeddings",) + base[1:],
        ("chat", "m2") + base[2:],
        ("chat", "m", {"temperature": 0.1}) + base[3:],
        base[:3] + ([{"role": "user", "content": "y"}], None, "v1"),
        base[:4] + ({"type": "object"}, "v1"),
        base[:5] + ("v2",),
    ]
    keys = {call_key(*variant) for variant in variants}
    assert len(keys) == len(variants) and call_key(*base) not in keys


def test_prepared_chat_sends_strict_json_schema_and_item_id_does_not_change_key() -> None:
    config = LLMConfig(backend="openai")
    one = prepare_chat(_request(item_id="a"), config)
    two = prepare_chat(_request(item_id="b"), config)
    fmt = one.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["additionalProperties"] is False
    assert one.key == two.key
    assert prepare_chat(_request(prompt_version="v2"), config).key != one.key


def test_retry_after_seconds_http_date_and_ms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    future = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3.0 <= retry_after_seconds({"retry-after": future}) <= 5.5
    assert retry_after_seconds({"retry-after": "garbage"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_seconds(attempt, 0.5, 4.0, rng) for attempt in range(8)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(2.0 <= d <= 4.0 for d in delays[3:])


def test_limiter_halves_once_per_window_and_grows_back_below_max() -> None:
    async def scenario() -> AdaptiveLimiter:
        limiter = AdaptiveLimiter(8, cooldown_s=0.0, start=8)
        async with limiter.slot() as epoch:
            limiter.on_pressure(epoch)
            limiter.on_pressure(epoch)  # same window: no second halving
        assert limiter.limit == 4.0
        async with limiter.slot() as epoch:
            limiter.on_pressure(epoch)  # a new window halves again
        assert limiter.limit == 2.0
        for _ in range(200):
            await limiter.on_success()
        return limiter

    limiter = asyncio.run(scenario())
    assert limiter.limit == 8.0 and limiter.decreases == 2


def test_limiter_cooldown_limits_halvings() -> None:
    async def scenario() -> AdaptiveLimiter:
        limiter = AdaptiveLimiter(64, cooldown_s=60.0, start=64)
        for _ in range(5):
            async with limiter.slot() as epoch:
                limiter.on_pressure(epoch)
        return limiter

    assert asyncio.run(scenario()).limit == 32.0


def test_limiter_bounds_concurrency() -> None:
    async def scenario() -> int:
        limiter = AdaptiveLimiter(3, start=3)

        async def job() -> None:
            async with limiter.slot():
                await asyncio.sleep(0.001)

        await asyncio.gather(*(job() for _ in range(50)))
        return limiter.max_in_flight

    assert asyncio.run(scenario()) == 3


@pytest.mark.parametrize(
    ("content", "finish", "needle"),
    [
        ('{"answer": "a", "confidence": 0.5}', "stop", None),
        ('{"answer": "a"', "stop", "invalid JSON"),
        ('{"answer": 1}', "stop", "schema violation"),
        ('{"answer": "a", "confidence": 0.5}', "length", "truncated"),
        (None, "stop", "empty"),
    ],
)
def test_validate_content(content, finish, needle) -> None:
    parsed, _, error = validate_content(content, finish, Answer)
    if needle is None:
        assert error is None and parsed == Answer(answer="a", confidence=0.5)
    else:
        assert needle in error and parsed is None


def test_offline_content_validates_and_fails_clearly() -> None:
    register_offline("parts", lambda i: {"answer": i["text"], "confidence": 1})
    register_offline("parts:broken", lambda i: {"answer": 3})
    content, parsed = offline_content(_request(role="parts:ok", inputs={"text": "x"}))
    assert parsed == Answer(answer="x", confidence=1.0) and '"answer": "x"' in content
    with pytest.raises(OfflineError, match="no offline implementation"):
        offline_content(_request(role="unregistered"))
    with pytest.raises(OfflineError, match="violates Answer"):
        offline_content(_request(role="parts:broken"))


def test_hashed_embedding_is_deterministic_normalised_and_similarity_aware() -> None:
    a = hashed_embedding("Aspirin reduces platelet aggregation")
    assert a == hashed_embedding("aspirin reduces platelet aggregation")
    assert len(a) == 256 and sum(v * v for v in a) == pytest.approx(1.0)
    near = hashed_embedding("aspirin reduces aggregation of platelets")
    far = hashed_embedding("gene expression in zebrafish fins")
    dot = lambda x, y: sum(p * q for p, q in zip(x, y, strict=True))  # noqa: E731
    assert dot(a, near) > dot(a, far)


def test_budget_reservations_and_accounting_metadata() -> None:
    budget = Budget(max_tokens=100)
    assert budget.try_reserve(60, 0.0)
    assert not budget.try_reserve(60, 0.0) and budget.state() == "exhausted"
    accounting = Accounting()
    accounting.record_usage("m", 10, 5, 2, 0.01)
    accounting.latencies_ms.extend(float(v) for v in range(1, 101))
    meta = accounting.metadata(budget)
    assert meta["openai.m.calls"] == 1 and meta["openai.m.total_tokens"] == 15
    assert meta["llm.latency_p50_ms"] == pytest.approx(50.5, abs=0.6)
    assert meta["llm.latency_p95_ms"] == pytest.approx(95, abs=1.1)
    assert meta["llm.budget_state"] == "exhausted"
