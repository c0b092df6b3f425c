"""scripts/evaluate.py as a user runs it from a fresh clone (the docs' first command): no Dagster
DEBUG lines or raw dicts, a table with the majority baseline, and the corpus PubMedQA* used."""

from __future__ import annotations

import os
import subprocess
import sys

from mkailin_assets import settings


def test_evaluate_prints_a_readable_table_and_names_the_corpus(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(settings.ENV_PREFIX)}
    env.pop("DAGSTER_HOME", None)
    env |= {
        "MKAILIN_DUCKDB_PATH": str(tmp_path / "eval.duckdb"),
        "MKAILIN_EXPORT_DIR": str(tmp_path / "exports"),
        "MKAILIN_EVAL_LIMIT": "20",
    }
    result = subprocess.run(
        [sys.executable, "scripts/evaluate.py", "offline"],
        cwd=settings.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "DEBUG" not in out + result.stderr and "{'llm." not in out
    header = next(line for line in out.splitlines() if line.startswith("model "))
    assert "accuracy %" in header and "majority %" in header and "95% CI" in header
    assert "benchmark_eval [offline]:" in out and "20 items" in out
    assert f"PubMedQA* retrieved from 0 citations in {tmp_path / 'eval.duckdb'}" in out
    assert "majority %: always answering the most frequent label" in out
