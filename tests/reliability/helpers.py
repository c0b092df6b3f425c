"""Tools of the reliability suite: table snapshots, the fake LLM server in its own process,
materializations in a child process that a test kills, and peak-memory sampling. Environments,
instances and in-process materializations come from tests/harness.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import psutil

from mkailin_assets.settings import REPO_ROOT, SAMPLE_PUBMED_SOURCE

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_RELEASES = [
    SAMPLE_PUBMED_SOURCE / "baseline" / "pubmed00n0001.xml.gz",
    SAMPLE_PUBMED_SOURCE / "baseline" / "pubmed00n0002.xml.gz",
    SAMPLE_PUBMED_SOURCE / "updatefiles" / "pubmed00n0003.xml.gz",
]
# Columns whose value is the wall clock of the write, not data.
CLOCK_COLUMNS = {"created_at", "updated_at", "loaded_at", "quarantined_at", "deleted_at"}


def read_only(db_path: str | Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db_path), read_only=True)


def table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [row[0] for row in rows]


def _comparable(column: str, column_type: str) -> str:
    """Text of a column; doubles rounded, since DuckDB's parallel sums differ in the last bit."""
    if column_type == "DOUBLE":
        return f'CAST(round("{column}", 9) AS VARCHAR)'
    if column_type == "DOUBLE[]":
        return f'CAST(list_transform("{column}", lambda x: round(x, 9)) AS VARCHAR)'
    return f'CAST("{column}" AS VARCHAR)'


def snapshot(
    db_path: str | Path, table: str, category: str | None = None, with_clock: bool = False
) -> list[tuple]:
    """A table (or one category partition) as sorted tuples, clock columns left out."""
    with read_only(db_path) as con:
        columns = [row[:2] for row in con.execute(f'DESCRIBE "{table}"').fetchall()]
        kept = [(c, t) for c, t in columns if with_clock or c not in CLOCK_COLUMNS]
        select = ", ".join(_comparable(c, t) for c, t in kept)
        where, params = ("WHERE category = ?", [category]) if category else ("", [])
        rows = con.execute(f'SELECT {select} FROM "{table}" {where}', params).fetchall()
    return sorted(rows, key=repr)


def dump_database(db_path: str | Path) -> str:
    """Every row of every table, as text: what a secret search must look through."""
    parts = []
    with read_only(db_path) as con:
        for table in table_names(con):
            parts.append(f"## {table}")
            rows = con.execute(f'SELECT CAST(t AS VARCHAR) FROM "{table}" AS t').fetchall()
            parts.extend(row[0] for row in rows)
    return "\n".join(parts)


SERVER_RUNNER = """
import sys, time
from tests.fakes.openai_server import FakeOpenAIServer
from tests.reliability.helpers import agent_responder

server = FakeOpenAIServer(latency_s=float(sys.argv[1]), seed=int(sys.argv[2]), responder=agent_responder)
server.start()
print(server.url, flush=True)
while True:
    time.sleep(3600)
"""


@contextmanager
def fake_server_process(latency_s: float = 0.0, seed: int = 0) -> Iterator[str]:
    """The fake OpenAI server (answering like a cooperative model, see agent_responder) in its
    own process, so it survives SIGKILLs of the pipeline and keeps counting."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_RUNNER, str(latency_s), str(seed)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"fake server did not start: {url!r}"
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a loaded machine: do not let tear-down fail the test
            server.kill()
            server.wait()


def server_stats(url: str) -> dict[str, Any]:
    base = url.removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/_fake/stats", timeout=10) as response:
        return json.loads(response.read())


def chat_requests(url: str) -> int:
    return int(server_stats(url)["by_path"].get("/v1/chat/completions", 0))


class PeakRSS:
    """Peak resident memory of a process tree, sampled every `interval_s` in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _tree_rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self._tree_rss())
            except psutil.Error:
                return
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def wait_for(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.02) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval_s)


def _schema_properties(body: dict[str, Any]) -> set[str]:
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    return set(schema.get("properties", {}))


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def agent_responder(body: dict[str, Any]) -> str:
    """Well-formed answers for every agent role, varying with the prompt (a cooperative model)."""
    import hashlib

    tag = hashlib.sha256(prompt_text(body).encode()).hexdigest()[:8]
    properties = _schema_properties(body)
    if "questions" in properties:
        question = f"How does finding {tag} change the management of this condition?"
        return json.dumps({"questions": [{"question": question, "descriptor_uis": []}]})
    if "better" in properties:
        return json.dumps({"better": "A", "reason": f"more specific ({tag})"})
    if "answer" in properties:
        cited = [int(pmid) for pmid in re.findall(r"PMID (\d+):", prompt_text(body))[:1]]
        return json.dumps(
            {
                "answer": f"The contexts report finding {tag}.",
                "cited_pmids": cited,
                "final_decision": "maybe",
                "insufficient_context": False,
            }
        )
    from tests.fakes.openai_server import default_responder

    return default_responder(body)


# A materialization in a child process, with optional crash hooks set through the environment:
#   RELIABILITY_HOLD_MODULE=<module>  that module's `transaction` writes the marker file, then
#       sleeps just before COMMIT (the parent SIGKILLs it there: every write done, none committed);
#   RELIABILITY_MARK_CALL=<module>:<function>:<n>  the marker is written after the n-th call of
#       that function, and the run goes on (the parent SIGKILLs it wherever it has got to).
CHILD_RUNNER = """
import importlib, os, sys, time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import mkailin_assets.definitions  # bind every module's imports before patching one of them
from tests.harness import ephemeral_instance, materialize

marker = Path(os.environ.get("RELIABILITY_MARKER", "/nonexistent"))
if os.environ.get("RELIABILITY_HOLD_MODULE"):
    # Only code that looks `transaction` up in that module's globals at call time is affected
    # (e.g. db.partitions._sync_from, not modules that imported the name earlier).
    module = importlib.import_module(os.environ["RELIABILITY_HOLD_MODULE"])
    original_transaction = module.transaction

    @contextmanager
    def holding_transaction(con):
        with original_transaction(con):
            yield con
            marker.write_text("holding before COMMIT")
            time.sleep(600)

    module.transaction = holding_transaction
if os.environ.get("RELIABILITY_MARK_CALL"):
    module_name, function_name, nth = os.environ["RELIABILITY_MARK_CALL"].split(":")
    module = importlib.import_module(module_name)
    original_function = getattr(module, function_name)
    calls = [0]

    def marking(*args, **kwargs):
        result = original_function(*args, **kwargs)
        calls[0] += 1
        if calls[0] == int(nth):
            marker.write_text(f"{function_name} called {nth} times")
        return result

    setattr(module, function_name, marking)

selection, key = sys.argv[1].split(","), sys.argv[2]
instance = ephemeral_instance([key] if key.endswith((".xml", ".xml.gz")) else [])
materialize(selection, key, instance)
print("materialized", flush=True)
"""


def start_child(
    env: dict[str, str], selection: list[str], partition_key: str, **hooks: str
) -> subprocess.Popen:
    child_env = {**os.environ, **env, **hooks, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_RUNNER, ",".join(selection), partition_key],
        cwd=REPO_ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(child: subprocess.Popen, ready: Any, timeout_s: float, what: str) -> None:
    """SIGKILL the child as soon as `ready()` holds; fail if it exits or never gets there."""
    import signal

    deadline = time.monotonic() + timeout_s
    while not ready():
        if child.poll() is not None:
            raise AssertionError(f"child exited before {what}:\n{child.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, child.returncode


def row_diff(
    actual: dict[str, list[tuple]], expected: dict[str, list[tuple]], limit: int = 3
) -> str:
    """A short account of which rows differ, per table, for assertion messages."""
    lines = []
    for table in expected:
        missing = sorted(set(expected[table]) - set(actual.get(table, [])), key=repr)
        extra = sorted(set(actual.get(table, [])) - set(expected[table]), key=repr)
        if missing or extra:
            lines.append(f"{table}: {len(missing)} expected rows missing, {len(extra)} unexpected")
            lines += [f"  missing {row}" for row in missing[:limit]]
            lines += [f"  unexpected {row}" for row in extra[:limit]]
    return "\n".join(lines)
