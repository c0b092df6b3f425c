"""Adaptive concurrency (AIMD) and retry timing: how hard we push an endpoint, and how we back off."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class AdaptiveLimiter:
    """A semaphore whose limit halves under pressure (429/503) and grows back by 1 per window.

    Only one halving per 'window': a pressure signal from a request that started before the last
    halving is old news and does not halve again (TCP's rule), and at most one per `cooldown_s`:
    scattered 429s (a 10% rate) would otherwise pin the limit near 1/sqrt(rate), as they do
    TCP's window. The limit never exceeds `maximum`."""

    def __init__(self, maximum: int, minimum: int = 1, cooldown_s: float = 1.0) -> None:
        self.maximum = maximum
        self.cooldown_s = cooldown_s
        self._last_decrease = -float("inf")
        self.minimum = minimum
        self.limit = float(maximum)
        self.in_flight = 0
        self.max_in_flight = 0
        self.decreases = 0
        self._epoch = 0
        self._condition = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one slot; yields the epoch to pass to `on_pressure`."""
        async with self._condition:
            await self._condition.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            epoch = self._epoch
        try:
            yield epoch
        finally:
            async with self._condition:
                self.in_flight -= 1
                self._condition.notify(1)

    def on_pressure(self, epoch: int) -> None:
        now = time.monotonic()
        if epoch != self._epoch or now - self._last_decrease < self.cooldown_s:
            return
        self._last_decrease = now
        self.limit = max(float(self.minimum), self.limit / 2)
        self._epoch += 1
        self.decreases += 1

    async def on_success(self) -> None:
        if self.limit >= self.maximum:
            return
        before = int(self.limit)
        self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
        if int(self.limit) > before:
            async with self._condition:
                self._condition.notify(int(self.limit) - before)


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds asked for by `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Equal-jitter exponential back-off: half the capped delay, plus up to the other half."""
    delay = min(cap, base * (2**attempt))
    return delay / 2 + rng.uniform(0, delay / 2)
