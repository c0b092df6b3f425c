"""benchmarks/ingest.py keeps working: one trial on a bundled sample file, through worker
processes so the compiled scanner runs; the JSON line carries every figure the note quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = sorted((REPO / "data" / "sample" / "pubmed" / "baseline").glob("*.xml.gz"))[0]


@pytest.mark.slow
def test_ingest_benchmark_prints_its_figures():
    completed = subprocess.run(
        [sys.executable, "benchmarks/ingest.py", str(SAMPLE), "--workers", "2", "--trials", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["parser"] == "compiled scanner with lxml fallback, 2 worker processes"
    assert summary["articles"] > 0 and summary["trials"] == 1
    for key in ("ratio_ours_vs_pubmed_parser", "ratio_ours_vs_ours_lxml", "ours_tree_peak_rss_mib"):
        assert summary[key] > 0
    assert "ours_lxml" in completed.stdout and "median trial" in completed.stdout
