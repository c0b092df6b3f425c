"""Benchmark twins at load: the cost of comparing a release file's citations with the benchmark
items, against the load itself (target: at most 10% of the load time).

    .venv/bin/python benchmarks/twins.py [PATH] [--benchmark FILE ...] [--trials T]
    (default PATH: ../shared/data/pubmed/pubmed20n0014.xml.gz; default benchmark: the
    MKAILIN_DECONTAMINATION default, PubMedQA's 1,000 PQA-L items; default trials: 3, each
    figure the median)

Each trial loads the whole MeSH 2024 vocabulary into a fresh DuckDB file (untimed), then times
what pubmed_files does with the file: the load itself (load_pubmed_file), and the whole step
(the load, the affected categories, the file's totals and its three checks); then runs
record_twins over every citation the load changed (all of them: a baseline file into an empty
corpus, the worst case), timed apart. Each trial runs twice, interleaved: with the compiled
word scanner (the default) and with the Polars reference (MKAILIN_WORD_SCANNER=off), the
baseline measured in the same run. Prints the twins found (benchmark, item, twin PMID, matched
n-grams, first n-gram) and the times; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = REPO_ROOT.parent / "shared" / "data" / "pubmed" / "pubmed20n0014.xml.gz"
MESH_FILE = REPO_ROOT.parent / "shared" / "data" / "mesh" / "mesh2024-trees.xml.gz"
sys.path.insert(0, str(REPO_ROOT))

from mkailin_assets import settings  # noqa: E402
from mkailin_assets.checks.ingest_checks import pubmed_files_checks  # noqa: E402
from mkailin_assets.db import apply_schema, open_connection, query_pl  # noqa: E402
from mkailin_assets.ingest.mesh_xml import load_mesh_descriptors  # noqa: E402
from mkailin_assets.ingest.pubmed_loader import load_pubmed_file  # noqa: E402
from mkailin_assets.stages.ingest import affected_categories, citation_totals  # noqa: E402
from mkailin_assets.stages.twins import record_twins  # noqa: E402


def trial(
    path: Path, benchmarks: list[str], scanner: str
) -> tuple[float, float, float, int, list[dict]]:
    os.environ["MKAILIN_WORD_SCANNER"] = scanner
    with tempfile.TemporaryDirectory() as folder:
        con = open_connection(Path(folder) / "bench.duckdb")
        apply_schema(con)
        load_mesh_descriptors(con, MESH_FILE)
        started = time.perf_counter()
        report = load_pubmed_file(con, path)
        load_s = time.perf_counter() - started
        affected_categories(con, list(report.changed_pmids))
        citation_totals(con, path.name)
        pubmed_files_checks(con, path.name)
        step_s = time.perf_counter() - started
        twins = record_twins(con, report.changed_pmids, path.name, benchmarks)
        rows = query_pl(
            con,
            "SELECT benchmark, item, pmid, matched_ngrams, first_ngram FROM benchmark_twins"
            " ORDER BY benchmark, item, pmid",
        ).to_dicts()
        con.close()
    return load_s, step_s, twins.seconds, twins.compared, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--benchmark", action="append", default=None)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    for needed in (args.path, MESH_FILE):
        if not needed.is_file():
            raise SystemExit(f"file not found: {needed} (see ../shared/data/README.md)")
    benchmarks = args.benchmark or settings.get_settings().decontamination
    if settings.get_settings().word_scanner == "off":
        raise SystemExit("unset MKAILIN_WORD_SCANNER: this benchmark runs both scanners itself")
    runs = [
        (trial(args.path, benchmarks, "auto"), trial(args.path, benchmarks, "off"))
        for _ in range(args.trials)
    ]
    results = [fast for fast, _ in runs] + [slow for _, slow in runs]
    load_s = statistics.median(r[0] for r in results)
    step_s = statistics.median(r[1] for r in results)
    twins_s = statistics.median(fast[2] for fast, _ in runs)
    reference_s = statistics.median(slow[2] for _, slow in runs)
    compared, rows = runs[0][0][3], runs[0][0][4]
    if rows != runs[0][1][4]:
        raise SystemExit("the compiled and the reference scanner found different twins")
    print(f"file: {args.path.name}; benchmarks: {', '.join(Path(b).name for b in benchmarks)}")
    print(f"twins found: {len({r['pmid'] for r in rows})} citations, {len(rows)} (twin, item) rows")
    for row in rows:
        print(
            f"  {row['benchmark']} item {row['item']} <- PMID {row['pmid']}: "
            f"{row['matched_ngrams']} n-grams, first: {row['first_ngram']!r}"
        )
    share = twins_s / load_s if load_s else 0.0
    step_share = twins_s / step_s if step_s else 0.0
    reference_share = reference_s / load_s if load_s else 0.0
    print(f"load {load_s:.2f} s (the pubmed_files step: {step_s:.2f} s), twin finding")
    print(f"  {twins_s:.2f} s over {compared} citations (Polars reference: {reference_s:.2f} s);")
    print(f"  medians of {args.trials} trials each, interleaved")
    print(f"twin finding / load = {share:.1%}; / the whole step = {step_share:.1%} (target <= 10%)")
    print(f"with the Polars reference: {reference_share:.1%} of the load")
    print(
        json.dumps(
            {
                "benchmark": "twins",
                "file": args.path.name,
                "citations_compared": compared,
                "twin_citations": len({r["pmid"] for r in rows}),
                "twin_rows": len(rows),
                "load_s": round(load_s, 3),
                "step_s": round(step_s, 3),
                "twins_s": round(twins_s, 3),
                "twins_s_reference": round(reference_s, 3),
                "share_of_load": round(share, 4),
                "share_of_load_reference": round(reference_share, 4),
                "share_of_step": round(step_share, 4),
                "target_met_vs_load": share <= 0.10,
                "trials": args.trials,
            }
        )
    )


if __name__ == "__main__":
    main()
