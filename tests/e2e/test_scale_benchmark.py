"""benchmarks/scale.py keeps working: two perturbed copies of a bundled sample file through every
stage (real assets, offline backend, one category); the JSON line carries the figures
docs/scale-out.md quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import BASELINE_FILES

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
STAGES = ["mesh_vocabulary", "mesh_tree", "pubmed_files", "retrieval_index", "mesh_ic",
          "raw_abstracts", "candidate_qa", "evaluated_qa", "training_set"]  # fmt: skip


def run_scale(copies: int, tmp_path: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "benchmarks/scale.py", "--copies", str(copies), "--perturb",
         "--baseline", str(SAMPLE / "pubmed" / "baseline" / BASELINE_FILES[0]),
         "--mesh", str(SAMPLE / "mesh" / "desc_sample.xml"), "--category", "H",
         "--sample", "3", "--queries", "20", "--workdir", str(tmp_path), "--keep"],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=True,
    )  # fmt: skip
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_scale_benchmark_runs_every_stage_and_prints_its_figures(tmp_path: Path):
    summary = run_scale(2, tmp_path)
    assert summary["copies"] == 2 and summary["perturbed"] is True
    assert summary["abstracts"] > 0 and summary["abstracts"] % 2 == 0  # two renumbered copies
    assert list(summary["stages"]) == STAGES
    for figures in summary["stages"].values():
        assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 50
    assert summary["retrieval_qps"] > 0
    # Two files: the first and the last file's own cost, to show a load does not grow with the
    # corpus already loaded.
    files = summary["stages"]["pubmed_files"]
    assert 0 < files["first_file_cpu_s"] < files["cpu_s"] and files["last_file_cpu_s"] > 0
    assert summary["peak_rss_mb"] == max(
        [f["peak_rss_mb"] for f in summary["stages"].values()] + [summary["retrieval_peak_rss_mb"]]
    )
    copies = sorted(p.name for p in (tmp_path / "corpus-perturbed").glob("*.xml.gz"))
    assert copies == ["pubmed99n0001.xml.gz", "pubmed99n0002.xml.gz"]

    # The IC digest benchmark reads the database the run kept.
    database = tmp_path / "project-2-perturbed" / "mkailin.duckdb"
    completed = subprocess.run(
        [sys.executable, "benchmarks/ic_digest.py", str(database), "--repeat", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    (digest,) = json.loads(completed.stdout.strip().splitlines()[-1])
    assert digest["citations"] > 0 and digest["headings"] > 0
    assert digest["digest_s"] > 0 and digest["before_s"] > 0
