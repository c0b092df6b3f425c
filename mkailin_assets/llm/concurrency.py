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
    """A semaphore whose limit halves under pressure (429/503, timeouts of queued requests) and
    grows back by 1 per window; it also follows latency, so a server that answers one request at
    a time (llama-cpp-python, Ollama, llama-server with one slot) is not sent more than it takes.

    It starts at `start` (the limit recorded for the endpoint by an earlier run) or, for an
    endpoint never seen, at SLOW_START and grows by one per answer while answers come as fast as
    the fastest seen (slow start). An answer much slower than the fastest means requests queue
    inside the server: the limit drops to what the server served in parallel (requests in flight
    when it was sent x fastest / its latency), so no request waits out its timeout behind its
    own siblings.

    Only one halving per 'window': a pressure signal from a request that started before the last
    halving is old news and does not halve again (TCP's rule), and at most one per `cooldown_s`:
    scattered 429s (a 10% rate) would otherwise pin the limit near 1/sqrt(rate), as they do
    TCP's window. The limit never exceeds `maximum`."""

    SLOW_START = 4
    QUEUEING_FACTOR = 2.0  # this much slower than the fastest answer: the server queues
    GROWTH_FACTOR = 1.5  # the limit grows only on answers about as fast as the fastest

    def __init__(
        self,
        maximum: int,
        minimum: int = 1,
        cooldown_s: float = 1.0,
        start: int | None = None,
    ) -> None:
        self.maximum = maximum
        self.cooldown_s = cooldown_s
        self._last_decrease = -float("inf")
        self.minimum = minimum
        first = start if start else min(maximum, self.SLOW_START)
        self.limit = float(max(minimum, min(maximum, first)))
        self._slow_start = not start
        self._fastest = float("inf")
        self.in_flight = 0
        self.in_flight_at_send = 0
        self.max_in_flight = 0
        self.decreases = 0
        self._epoch = 0
        self._condition = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one slot; yields the epoch to pass to `on_pressure` (`in_flight_at_send` is
        what was in flight when it was taken)."""
        async with self._condition:
            await self._condition.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.in_flight_at_send = self.in_flight
            epoch = self._epoch
        try:
            yield epoch
        finally:
            async with self._condition:
                self.in_flight -= 1
                self._condition.notify(1)

    def on_pressure(self, epoch: int) -> None:
        self._decrease(epoch, self.limit / 2)

    def _decrease(self, epoch: int, to: float) -> None:
        now = time.monotonic()
        if epoch != self._epoch or now - self._last_decrease < self.cooldown_s:
            return
        self._last_decrease = now
        self._slow_start = False
        self.limit = max(float(self.minimum), min(self.limit, to))
        self._epoch += 1
        self.decreases += 1

    def on_latency(self, epoch: int, seconds_per_unit: float, in_flight_at_send: int) -> bool:
        """An answer's latency (per unit of work, e.g. per generated token). Returns True when
        it came about as fast as the fastest seen (the limit may then grow); an answer more than
        QUEUEING_FACTOR times slower shows queueing inside the server and the limit drops."""
        self._fastest = min(self._fastest, seconds_per_unit)
        if seconds_per_unit <= self.GROWTH_FACTOR * self._fastest:
            return True
        if seconds_per_unit <= self.QUEUEING_FACTOR * self._fastest or in_flight_at_send <= 1:
            return False
        served = in_flight_at_send * self._fastest / seconds_per_unit
        self._decrease(epoch, max(float(self.minimum), float(int(served))))
        return False

    async def on_success(self, grow: bool = True) -> None:
        if self.limit >= self.maximum or not grow:
            return
        before = int(self.limit)
        step = 1.0 if self._slow_start else 1.0 / self.limit
        self.limit = min(float(self.maximum), self.limit + step)
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
