"""Benchmark of the LLM client against the fake OpenAI server (100 ms per request, own process).

(a) throughput of LLMClient.run on 2,000 distinct requests at concurrency 64 against a bare
    asyncio.gather through AsyncOpenAI with a semaphore of 64 (target >= 0.8x);
(b) the same run again, fully cached: requests reaching the server (must be 0) and its time;
(c) 10% of first attempts answered 429 (Retry-After: 0), then success: no failures.
Prints the figures, then one JSON line.

    .venv/bin/python benchmarks/llm_client.py [--requests 2000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
from pydantic import BaseModel

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from mkailin_assets.db import apply_schema, open_connection  # noqa: E402
from mkailin_assets.llm.client import LLMClient, prepare_chat  # noqa: E402
from mkailin_assets.llm.config import LLMConfig  # noqa: E402
from mkailin_assets.llm.types import LLMRequest  # noqa: E402


class Question(BaseModel):
    question: str
    rationale: str
    confidence: float


def make_requests(n: int, tag: str) -> list[LLMRequest]:
    return [
        LLMRequest(
            role="question:bench",
            item_id=f"{tag}-{i}",
            messages=[
                {"role": "system", "content": "Write one research question about the abstract."},
                {"role": "user", "content": f"[{tag}] Abstract {i}: " + "lorem ipsum " * 40},
            ],
            response_model=Question,
            prompt_version="bench-v1",
        )
        for i in range(n)
    ]


@contextmanager
def fake_server(latency: float, rate_429: float = 0.0):
    """The fake server in its own process, so it does not share the client's GIL."""
    command = [sys.executable, "-m", "tests.fakes.openai_server", "--latency", str(latency)]
    if rate_429:
        command += ["--rate-429", str(rate_429), "--retry-after", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1"):
            raise RuntimeError(f"fake server did not start: {url!r}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_stats(url: str) -> dict:
    return httpx.get(url.removesuffix("/v1") + "/_fake/stats").json()


def config_for(url: str, concurrency: int, cooldown_s: float = 1.0) -> LLMConfig:
    return LLMConfig(
        pressure_cooldown_s=cooldown_s,
        backend="openai",
        base_url=url,
        api_key="sk-bench",
        max_concurrency=concurrency,
        max_retries=8,
        retry_base_delay_s=0.05,
        timeout_s=30,
    )


async def bare_gather(url: str, requests: list[LLMRequest], concurrency: int) -> float:
    """The floor: AsyncOpenAI + semaphore, no cache, no validation, no accounting."""
    config = config_for(url, concurrency)
    bodies = [prepare_chat(request, config).body for request in requests]
    client = openai.AsyncOpenAI(base_url=url, api_key="sk-bench", max_retries=0, timeout=30)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(body: dict) -> None:
        async with semaphore:
            await client.chat.completions.create(**body)

    started = time.perf_counter()
    await asyncio.gather(*(one(body) for body in bodies))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


def client_run(
    url: str, db: Path, requests: list[LLMRequest], concurrency: int, cooldown_s: float = 1.0
):
    con = open_connection(db)
    apply_schema(con)
    client = LLMClient(config_for(url, concurrency, cooldown_s), con)
    started = time.perf_counter()
    results = client.run(requests)
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed, results, client.accounting()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--trials", type=int, default=5, help="interleaved trials of (a)")
    parser.add_argument(
        "--cooldown", type=float, default=1.0, help="pressure_cooldown_s for run (c)"
    )
    args = parser.parse_args()
    n, concurrency = args.requests, args.concurrency
    figures: dict = {"requests": n, "concurrency": concurrency, "latency_s": args.latency}
    figures["c_pressure_cooldown_s"] = args.cooldown

    with tempfile.TemporaryDirectory() as tmp, fake_server(args.latency) as url:
        tmp_path = Path(tmp)
        # Warm both paths (imports, connection pools) on requests not used below.
        asyncio.run(bare_gather(url, make_requests(64, "warm-bare"), concurrency))
        client_run(url, tmp_path / "warm.duckdb", make_requests(64, "warm-client"), concurrency)

        # This machine's timings wander by ±30% between runs, so both paths run `trials` times,
        # interleaved, each trial on fresh (uncached) requests; medians are compared.
        bare_times, client_times = [], []
        for trial in range(args.trials):
            bare_times.append(
                asyncio.run(bare_gather(url, make_requests(n, f"bare{trial}"), concurrency))
            )
            requests = make_requests(n, f"client{trial}")
            before = server_stats(url)["total"]
            db = tmp_path / f"a{trial}.duckdb"
            client_s, results, meta = client_run(url, db, requests, concurrency)
            client_times.append(client_s)
            sent = server_stats(url)["total"] - before
        bare_s, client_s = statistics.median(bare_times), statistics.median(client_times)
        figures["a_trials"] = args.trials
        figures["a_bare_gather_trials_s"] = [round(t, 3) for t in bare_times]
        figures["a_client_trials_s"] = [round(t, 3) for t in client_times]
        figures["a_bare_gather_s"] = round(bare_s, 3)
        figures["a_bare_gather_rps"] = round(n / bare_s, 1)
        figures["a_client_s"] = round(client_s, 3)
        figures["a_client_rps"] = round(n / client_s, 1)
        figures["a_ratio"] = round(bare_s / client_s, 3)
        figures["a_ok"] = sum(r.ok for r in results)
        figures["a_server_requests"] = sent
        figures["a_latency_p50_ms"] = meta["llm.latency_p50_ms"]
        figures["a_latency_p95_ms"] = meta["llm.latency_p95_ms"]
        figures["a_max_in_flight"] = meta["llm.max_in_flight"]

        before = server_stats(url)["total"]
        cached_s, cached_results, _ = client_run(url, db, requests, concurrency)
        figures["b_cached_s"] = round(cached_s, 3)
        figures["b_server_requests"] = server_stats(url)["total"] - before
        figures["b_all_cached"] = all(r.cached and r.ok for r in cached_results)

    with tempfile.TemporaryDirectory() as tmp, fake_server(args.latency, rate_429=0.1) as url:
        requests = make_requests(n, "pressure")
        elapsed, results, meta = client_run(
            url, Path(tmp) / "c.duckdb", requests, concurrency, args.cooldown
        )
        stats = server_stats(url)
        figures["c_s"] = round(elapsed, 3)
        figures["c_ok"] = sum(r.ok for r in results)
        figures["c_failures"] = meta["llm.failures"]
        figures["c_429_answered"] = stats["faults"].get("429", 0)
        figures["c_retries"] = meta["llm.retries"]
        figures["c_server_requests"] = stats["total"]
        figures["c_max_in_flight"] = meta["llm.max_in_flight"]

    print(
        f"(a) trials (s): bare {figures['a_bare_gather_trials_s']}, client {figures['a_client_trials_s']}"
    )
    print(f"(a) bare gather: {figures['a_bare_gather_s']} s ({figures['a_bare_gather_rps']} req/s)")
    print(
        f"(a) LLMClient:   {figures['a_client_s']} s ({figures['a_client_rps']} req/s),"
        f" ratio {figures['a_ratio']}x (target >= 0.8), {figures['a_ok']}/{n} ok,"
        f" p50 {figures['a_latency_p50_ms']} ms, p95 {figures['a_latency_p95_ms']} ms"
    )
    print(
        f"(b) cached re-run: {figures['b_cached_s']} s,"
        f" {figures['b_server_requests']} requests reached the server"
    )
    print(
        f"(c) 10% 429: {figures['c_s']} s, {figures['c_ok']}/{n} ok, failures"
        f" {figures['c_failures']}, 429s {figures['c_429_answered']}, retries {figures['c_retries']}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
