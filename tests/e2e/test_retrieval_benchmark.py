"""benchmarks/retrieval.py keeps working: one copy, a few queries, without the SQL BM25; the JSON
line carries the figures docs/scale-out.md quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BASELINE_FILE, require_shared

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_retrieval_benchmark_prints_its_figures():
    require_shared(BASELINE_FILE)
    completed = subprocess.run(
        [sys.executable, "benchmarks/retrieval.py", "--copies", "1", "--queries", "40", "--no-sql"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["copies"] == 1 and summary["docs"] > 14_000
    for key in ("ours_qps", "bm25s_qps", "ours_build_s", "ours_peak_rss_mb"):
        assert summary[key] > 0
    assert summary["overlap_at_10"] >= 0.95
