"""Ingest benchmark: our pubmed_files load vs pubmed_parser vs a bare lxml iterparse loop.

    .venv/bin/python benchmarks/ingest.py [PATH] [--workers N] [--trials T]
    (default PATH: ../shared/data/pubmed/pubmed20n0014.xml.gz; default workers: the loader's;
    default trials: 3, interleaved, each figure is the median trial and the highest peak)

"ours" is the loader as shipped (the compiled scanner, lxml for records outside its subset);
"ours_lxml" is the same load with MKAILIN_PUBMED_SCANNER=off (lxml for every record).

Each measurement runs in its own subprocess. Peak memory is reported two ways: the measured
process's own peak RSS (getrusage), and the peak RSS summed over its whole process tree (psutil,
sampled every 20 ms; ours uses parser worker processes). Ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from child_process import run_measured  # benchmarks/, the script's own folder

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = REPO_ROOT.parent / "shared" / "data" / "pubmed" / "pubmed20n0014.xml.gz"
MEASUREMENTS = ("ours", "pubmed_parser", "bare_iterparse", "ours_lxml")
# Contenders that are our loader, with the environment they run under.
OUR_LOADS = {"ours": {}, "ours_lxml": {"MKAILIN_PUBMED_SCANNER": "off"}}


def measure_ours(path: Path, workers: int | None = None) -> Any:
    """Our load into a fresh DuckDB file; returns its LoadReport."""
    sys.path.insert(0, str(REPO_ROOT))
    from mkailin_assets.db import apply_schema, open_connection
    from mkailin_assets.ingest.pubmed_loader import load_pubmed_file

    with tempfile.TemporaryDirectory() as folder:
        con = open_connection(Path(folder) / "bench.duckdb")
        apply_schema(con)
        report = load_pubmed_file(con, path, workers=workers)
        stored = con.execute("SELECT count(*) FROM citations").fetchone()[0]
        con.close()
    assert report.reconciles() and stored == report.citations_upserted
    return report


def measure_pubmed_parser(path: Path) -> int:
    import pubmed_parser

    return len(list(pubmed_parser.parse_medline_xml(str(path))))


def measure_bare(path: Path) -> int:
    import gzip

    from lxml import etree

    count = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        for _, element in etree.iterparse(
            stream, events=("end",), tag="PubmedArticle", huge_tree=True
        ):
            count += 1
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    return count


OTHER_MEASUREMENTS = {"pubmed_parser": measure_pubmed_parser, "bare_iterparse": measure_bare}


def import_modules(kind: str) -> None:
    """Import what each contender needs before its timer starts (same rule for all)."""
    import importlib

    sys.path.insert(0, str(REPO_ROOT))
    ours = ["mkailin_assets.ingest.pubmed_loader", "mkailin_assets.db"]
    modules = {
        "ours": ours,
        "ours_lxml": ours,
        "pubmed_parser": ["pubmed_parser"],
        "bare_iterparse": ["gzip", "lxml.etree"],
    }[kind]
    for name in modules:
        importlib.import_module(name)


def child(kind: str, path: Path, workers: int | None) -> None:
    """Run one measurement in this (fresh) process; print its figures as JSON."""
    import_modules(kind)  # the timer measures the load, not the interpreter's imports
    parser = None
    if kind in OUR_LOADS:
        from mkailin_assets.ingest.pubmed_batches import parser_description
        from mkailin_assets.ingest.pubmed_loader import default_workers

        if workers is None:  # what the loader picks for this file
            workers = default_workers(path.stat().st_size)
        parser = parser_description(workers)
    started = time.perf_counter()
    if kind in OUR_LOADS:
        report = measure_ours(path, workers)
        articles, phases = report.articles_read, report.phase_seconds
    else:
        articles, phases = OTHER_MEASUREMENTS[kind](path), {}
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"articles": articles, "seconds": seconds, "self_peak_mib": own,
                      "max_child_peak_mib": children, "workers": workers, "parser": parser,
                      "phases": phases}))  # fmt: skip


def run(kind: str, path: Path, workers: int | None) -> dict:
    environment = {**os.environ, "MKAILIN_PUBMED_SCANNER": "auto", **OUR_LOADS.get(kind, {})}
    command = [sys.executable, __file__, "--child", kind, str(path), str(workers)]
    figures, peak = run_measured(command, kind, REPO_ROOT, environment)
    figures["tree_peak_mib"] = peak / (1 << 20)
    figures["articles_per_s"] = figures["articles"] / figures["seconds"]
    return figures


def _median_trial(trials: list[dict]) -> dict:
    """The median trial's figures, with the highest peak memory seen in any trial."""
    median = dict(sorted(trials, key=lambda t: t["seconds"])[len(trials) // 2])
    for peak in ("self_peak_mib", "tree_peak_mib"):
        median[peak] = max(t[peak] for t in trials)
    return median


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        child(argv[1], Path(argv[2]), None if argv[3] == "None" else int(argv[3]))
        return
    options = {"--workers": None, "--trials": "3"}
    for flag in options:
        if flag in argv:
            at = argv.index(flag)
            options[flag] = argv[at + 1]
            argv = argv[:at] + argv[at + 2 :]
    workers = None if options["--workers"] is None else int(options["--workers"])
    trials = int(options["--trials"])
    path = Path(argv[0]) if argv else DEFAULT_FILE
    if not path.exists():
        raise SystemExit(f"{path} not found (the real NLM data lives in ../shared/data)")
    # Nothing heavy is imported here: a child's peak RSS starts from this process's size.
    # Trials interleave the contenders, so a slow spell of the machine hits all of them.
    runs: dict[str, list[dict]] = {kind: [] for kind in MEASUREMENTS}
    for _ in range(trials):
        for kind in MEASUREMENTS:
            runs[kind].append(run(kind, path, workers))
    results = {kind: _median_trial(trials_of_kind) for kind, trials_of_kind in runs.items()}
    ours, pp, bare, ours_lxml = (results[k] for k in MEASUREMENTS)
    print(
        f"file: {path.name} ({path.stat().st_size / (1 << 20):.1f} MiB)  cpus: {psutil.cpu_count()}"
        f"  parser: {ours['parser']}"
    )
    print(f"{trials} interleaved trials; seconds per trial:")
    for kind, trials_of_kind in runs.items():
        print(f"{kind:>15}: " + ", ".join(f"{t['seconds']:.2f}" for t in trials_of_kind))
    print("median trial, highest peaks:")
    for kind, figures in results.items():
        print(
            f"{kind:>15}: {figures['articles']:>7} articles in {figures['seconds']:6.2f} s"
            f" = {figures['articles_per_s']:8.0f} articles/s;"
            f" peak RSS {figures['self_peak_mib']:6.0f} MiB (process),"
            f" {figures['tree_peak_mib']:6.0f} MiB (process tree)"
        )
    for kind in OUR_LOADS:
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in results[kind]["phases"].items())
        print(f"{kind:>15} phases (median trial): {phases}")
    ratio_pp = ours["articles_per_s"] / pp["articles_per_s"]
    ratio_bare = ours["articles_per_s"] / bare["articles_per_s"]
    ratio_lxml = ours["articles_per_s"] / ours_lxml["articles_per_s"]
    print(
        f"ours / pubmed_parser = {ratio_pp:.2f}x (target >= 4x);  ours / bare iterparse = {ratio_bare:.2f}x;"
        f"  ours / ours_lxml = {ratio_lxml:.2f}x"
    )
    summary = {
        "file": path.name,
        "trials": trials,
        "workers": ours["workers"],
        "parser": ours["parser"],
        "articles": ours["articles"],
        "ours_articles_per_s": round(ours["articles_per_s"], 1),
        "pubmed_parser_articles_per_s": round(pp["articles_per_s"], 1),
        "bare_iterparse_articles_per_s": round(bare["articles_per_s"], 1),
        "ratio_ours_vs_pubmed_parser": round(ratio_pp, 3),
        "ratio_ours_vs_bare_iterparse": round(ratio_bare, 3),
        "ours_lxml_articles_per_s": round(ours_lxml["articles_per_s"], 1),
        "ratio_ours_vs_ours_lxml": round(ratio_lxml, 3),
        "ours_seconds": round(ours["seconds"], 3),
        "ours_phase_seconds": {k: round(v, 3) for k, v in ours["phases"].items()},
        "pubmed_parser_seconds": round(pp["seconds"], 3),
        "bare_iterparse_seconds": round(bare["seconds"], 3),
        "ours_peak_rss_mib": round(ours["self_peak_mib"], 1),
        "ours_tree_peak_rss_mib": round(ours["tree_peak_mib"], 1),
        "pubmed_parser_peak_rss_mib": round(pp["self_peak_mib"], 1),
        "bare_iterparse_peak_rss_mib": round(bare["self_peak_mib"], 1),
        "target_4x_met": ratio_pp >= 4,
        "memory_under_1gib": ours["tree_peak_mib"] < 1024,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
