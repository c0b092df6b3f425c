"""The README's demo command end to end, as a user runs it: a fresh run over the whole sample,
then a second run that must buy nothing (every LLM call, offline ones included, is cached) and
leave the training set as it was."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mkailin_assets import settings
from mkailin_assets.agents.answer import is_yes_no_question
from mkailin_assets.db import open_connection
from mkailin_assets.demo import SUMMARY_COLUMNS

# The categories the sample covers (data/sample/README.md): every letter but V.
COVERED = list("ABCDEFGHIJKLMN") + ["Z"]


def demo_env(tmp_path: Path) -> dict[str, str]:
    """The user's environment without any mkailin or Dagster settings, plus temp paths."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("MKAILIN_") and k != "DAGSTER_HOME"
    }
    env.update(
        MKAILIN_DUCKDB_PATH=str(tmp_path / "demo.duckdb"),
        MKAILIN_EXPORT_DIR=str(tmp_path / "exports"),
        MKAILIN_DOWNLOAD_DIR=str(tmp_path / "downloads"),
        GX_ANALYTICS_ENABLED="false",
        DAGSTER_DISABLE_TELEMETRY="1",
    )
    return env


def run_demo(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "mkailin_assets.demo", *args],
        cwd=settings.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


def summary_rows(stdout: str) -> dict[str, dict[str, str]]:
    """The per-category table of the summary, keyed by letter."""
    rows = {}
    for line in stdout.splitlines():
        if re.match(r"^[A-Z]   ", line):
            cells = re.split(r"\s{2,}", line.strip())
            assert len(cells) == len(SUMMARY_COLUMNS), line
            headers = [column.header for column in SUMMARY_COLUMNS]
            rows[cells[0]] = dict(zip(headers, cells, strict=True))
    return rows


def db_state(path: str) -> tuple[int, list[tuple]]:
    con = open_connection(path, read_only=True)
    try:
        calls = con.execute("SELECT count(*) FROM llm_calls").fetchall()[0][0]
        training = con.execute("SELECT * FROM training_set ORDER BY category, record_id").fetchall()
    finally:
        con.close()
    return calls, training


@pytest.mark.slow
def test_demo_runs_fresh_then_again_without_new_calls(tmp_path):
    env = demo_env(tmp_path)
    first = run_demo(env, "--fresh")
    assert f"abstracts in {len(COVERED)} of them: {', '.join(COVERED)}" in first
    assert "unchanged step(s) skipped" not in first  # a fresh database: everything runs
    assert "rebuilding the retrieval index" not in first  # a first build is no warning
    rows = summary_rows(first)
    assert sorted(rows) == sorted([*COVERED, "V"])  # one line per category, V empty
    for letter in COVERED:
        assert int(rows[letter]["abstracts"]) > 0, rows[letter]
        assert int(rows[letter]["questions"]) > 0, rows[letter]
        assert int(rows[letter]["sft"]) > 0, rows[letter]
    assert rows["V"]["abstracts"] == "0"
    exports = Path(env["MKAILIN_EXPORT_DIR"])
    assert (exports / "README.md").is_file() and (exports / "sft" / "train.parquet").is_file()
    calls_before, training_before = db_state(env["MKAILIN_DUCKDB_PATH"])
    assert calls_before > 0 and training_before
    match = re.search(r"new LLM calls this run: (\d+)", first)
    assert match and int(match.group(1)) == calls_before

    # The offline backend follows the real-model prompt's rule: a decision for yes/no questions only.
    sft = pl.read_parquet(exports / "sft" / "train.parquet")
    for question, decision in sft.select("question", "final_decision").iter_rows():
        if is_yes_no_question(question):
            assert decision in {"yes", "no", "maybe"}, question
        else:
            assert decision is None, (question, decision)
    card = (exports / "README.md").read_text()
    assert "Not training data" in card and str(tmp_path) not in card

    export_files = {p: p.stat().st_mtime_ns for p in exports.rglob("*") if p.is_file()}

    second = run_demo(env)  # no --fresh: the same database, nothing new to do
    assert "new LLM calls this run: 0" in second
    # Every step unchanged: none runs again, and the export is not rewritten.
    for phase, steps in [("mesh_tree (16 partitions)", 17), ("raw_abstracts: 16 categories", 16)]:
        assert re.search(rf"{re.escape(phase)} in [\d.]+s, {steps} unchanged step", second)
    assert "training_set + export in" in second and f"{len(COVERED) + 1} unchanged" in second
    assert {p: p.stat().st_mtime_ns for p in exports.rglob("*") if p.is_file()} == export_files
    calls_after, training_after = db_state(env["MKAILIN_DUCKDB_PATH"])
    assert calls_after == calls_before
    assert training_after == training_before  # rows and their timestamps untouched
    assert summary_rows(second) == rows
