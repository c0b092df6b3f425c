"""Token, cost, latency and budget accounting for one client, reported as Dagster metadata.

Key names follow dagster-openai (`openai.<model>.calls`, `.prompt_tokens`, `.completion_tokens`,
`.total_tokens`) so users see familiar names; our own figures live under `llm.`.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


class BudgetExhausted(RuntimeError):
    """The next request would cross the budget: sending stopped, completed work is cached.

    `results` holds the LLMResults in request order (None where nothing was sent)."""

    def __init__(self, message: str, results: list[Any] | None = None) -> None:
        super().__init__(message)
        self.results = results or []


@dataclass
class Budget:
    max_tokens: int | None = None
    max_usd: float | None = None
    spent_tokens: int = 0
    spent_usd: float = 0.0
    reserved_tokens: int = 0
    reserved_usd: float = 0.0
    exhausted: bool = False

    @property
    def limited(self) -> bool:
        return self.max_tokens is not None or self.max_usd is not None

    def try_reserve(self, tokens: int, usd: float) -> bool:
        """Reserve an estimate for one request; False (and exhausted) when it would cross."""
        if self.exhausted:
            return False
        over_tokens = (
            self.max_tokens is not None
            and self.spent_tokens + self.reserved_tokens + tokens > self.max_tokens
        )
        over_usd = (
            self.max_usd is not None and self.spent_usd + self.reserved_usd + usd > self.max_usd
        )
        if over_tokens or over_usd:
            self.exhausted = True
            return False
        self.reserved_tokens += tokens
        self.reserved_usd += usd
        return True

    def settle(self, reserved_tokens: int, reserved_usd: float, tokens: int, usd: float) -> None:
        self.reserved_tokens -= reserved_tokens
        self.reserved_usd -= reserved_usd
        self.spent_tokens += tokens
        self.spent_usd += usd

    def state(self) -> str:
        if not self.limited:
            return "unlimited"
        return "exhausted" if self.exhausted else "ok"


@dataclass
class _ModelUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Accounting:
    requests_sent: int = 0  # HTTP attempts, retries included
    items_completed: int = 0
    cache_hits: int = 0
    failures: int = 0
    retries: int = 0
    schema_retries: int = 0
    offline_calls: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    usage: dict[str, _ModelUsage] = field(default_factory=lambda: defaultdict(_ModelUsage))
    busy_seconds: float = 0.0

    def record_usage(
        self, model: str, prompt: int, completion: int, cached: int, cost: float
    ) -> None:
        usage = self.usage[model]
        usage.calls += 1
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        usage.cached_tokens += cached
        usage.cost_usd += cost

    def timed(self) -> _Timer:
        return _Timer(self)

    def metadata(self, budget: Budget | None = None) -> dict[str, Any]:
        """Plain ints, floats and strings: ready for Dagster's MaterializeResult metadata."""
        values: dict[str, Any] = {}
        for model, usage in sorted(self.usage.items()):
            values[f"openai.{model}.calls"] = usage.calls
            values[f"openai.{model}.prompt_tokens"] = usage.prompt_tokens
            values[f"openai.{model}.completion_tokens"] = usage.completion_tokens
            values[f"openai.{model}.total_tokens"] = usage.prompt_tokens + usage.completion_tokens
            values[f"openai.{model}.cached_tokens"] = usage.cached_tokens
        totals = list(self.usage.values())
        values.update(
            {
                "llm.requests_sent": self.requests_sent,
                "llm.items_completed": self.items_completed,
                "llm.cache_hits": self.cache_hits,
                "llm.failures": self.failures,
                "llm.retries": self.retries,
                "llm.schema_retries": self.schema_retries,
                "llm.offline_calls": self.offline_calls,
                "llm.prompt_tokens": sum(u.prompt_tokens for u in totals),
                "llm.completion_tokens": sum(u.completion_tokens for u in totals),
                "llm.cached_tokens": sum(u.cached_tokens for u in totals),
                "llm.cost_usd": round(sum(u.cost_usd for u in totals), 6),
                "llm.latency_p50_ms": round(_percentile(self.latencies_ms, 50), 1),
                "llm.latency_p95_ms": round(_percentile(self.latencies_ms, 95), 1),
                "llm.throughput_rps": round(
                    self.items_completed / self.busy_seconds if self.busy_seconds else 0.0, 2
                ),
            }
        )
        if budget is not None:
            values["llm.budget_state"] = budget.state()
            values["llm.budget_spent_tokens"] = budget.spent_tokens
            values["llm.budget_spent_usd"] = round(budget.spent_usd, 6)
        return values


class _Timer:
    """Adds wall time of a run to busy_seconds (throughput = completed items / busy time)."""

    def __init__(self, accounting: Accounting) -> None:
        self._accounting = accounting

    def __enter__(self) -> _Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._accounting.busy_seconds += time.perf_counter() - self._start


def _percentile(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[pct - 1])
