"""Scale benchmark: every stage of one category over N renumbered copies of a real baseline file.

Builds N release files from the bundled 2020 baseline file (copy c renumbers every PMID p to
p + c * 100,000,000; with --perturb each copy's abstracts also end with a copy token, so copies are
not identical texts), then runs the real Dagster assets against them with the offline backend:
mesh_vocabulary, mesh_tree for the category, pubmed_files for every file, the corpus-wide
retrieval_index (BM25) and mesh_ic (IC snapshot), then raw_abstracts, candidate_qa, evaluated_qa
and training_set for one category with a fixed sample (MKAILIN_SAMPLE_PER_CATEGORY). Each stage runs in its own process against a persistent Dagster
instance; a sampler here reads the RSS of that process and all its children every 20 ms, so each
stage's peak includes the loader's parser workers. Last, BM25 retrieval throughput over the whole
corpus: title queries of the first copy, k = 4. Ends with one JSON line:
{"copies": N, "abstracts": ..., "stages": {"<asset>": {"seconds": ..., "cpu_s": ...,
 "peak_rss_mb": ...}}, "retrieval_qps": ...}; cpu_s (the stage process and its workers, all
threads) is the steadier figure on a shared machine.

    .venv/bin/python benchmarks/scale.py --copies N [--perturb] [--category C] [--sample 40]
        [--baseline FILE] [--mesh FILE] [--workdir DIR] [--queries 500]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from child_process import run_measured  # benchmarks/, the script's own folder
from retrieval import PMID_STRIDE, sample_queries

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared" / "data"
BASELINE_FILE = SHARED / "pubmed" / "pubmed20n0014.xml.gz"
MESH_FILE = SHARED / "mesh" / "mesh2024-trees.xml.gz"
STAGES = ("mesh_vocabulary", "mesh_tree", "pubmed_files", "retrieval_index", "mesh_ic",
          "raw_abstracts", "candidate_qa", "evaluated_qa", "training_set")  # fmt: skip
UNPARTITIONED = ("mesh_vocabulary", "retrieval_index", "mesh_ic")
_PMID = re.compile(rb"(<PMID\b[^>]*>)(\d+)(</PMID>)")
_ARTICLE_ID = re.compile(rb'(<ArticleId IdType="pubmed">)(\d+)(</ArticleId>)')


# --------------------------------------------------------------------------- the corpus


def release_name(copy: int) -> str:
    """pubmed20n0014 is copy 0; copy c is file number c + 1 of a made-up 2099 release."""
    return f"pubmed99n{copy + 1:04d}.xml.gz"


def write_copies(baseline: Path, copies: int, perturb: bool, folder: Path) -> list[Path]:
    """N renumbered copies of `baseline` as release files in `folder` (written once, reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [folder / release_name(c) for c in range(copies)]
    marker = folder / f"copies-{'perturbed' if perturb else 'plain'}.json"
    done = json.loads(marker.read_text()) if marker.exists() else []
    missing = [c for c in range(copies) if release_name(c) not in done]
    if not missing:
        return wanted
    with gzip.open(baseline, "rb") as handle:
        xml = handle.read()
    for copy in missing:
        offset = copy * PMID_STRIDE

        def renumber(match: re.Match[bytes], offset: int = offset) -> bytes:
            return match[1] + str(int(match[2]) + offset).encode() + match[3]

        text = _ARTICLE_ID.sub(renumber, _PMID.sub(renumber, xml))
        if perturb and copy:
            text = text.replace(b"</AbstractText>", f" mkcopy{copy}</AbstractText>".encode())
        with gzip.open(folder / release_name(copy), "wb", compresslevel=1) as out:
            out.write(text)
        done.append(release_name(copy))
        marker.write_text(json.dumps(done))
    return wanted


# --------------------------------------------------------------------------- one stage (child)


def stage_child(stage: str, category: str, files: list[str], queries: int) -> dict[str, Any]:
    """Run one stage in this process (DAGSTER_HOME and MKAILIN_* already set by the parent)."""
    sys.path.insert(0, str(REPO_ROOT))
    import dagster as dg

    from mkailin_assets.assets.catalog import ASSETS
    from mkailin_assets.definitions import build_resources

    if stage == "retrieval":
        return retrieval_child(queries)
    with dg.DagsterInstance.get() as instance:
        resources = build_resources()
        if stage == "pubmed_files":
            instance.add_dynamic_partitions("pubmed_files", files)
            keys: list[str | None] = list(files)
        elif stage in UNPARTITIONED:
            keys = [None]
        else:
            keys = [category]
        started, cpu = time.perf_counter(), cpu_s()
        metadata: dict[str, Any] = {}
        per_key: list[tuple[float, float]] = []  # (wall, CPU) seconds of each partition's run
        for key in keys:
            key_started, key_cpu = time.perf_counter(), cpu_s()
            result = dg.materialize(
                ASSETS, selection=[stage], partition_key=key, instance=instance,
                resources=resources,
            )  # fmt: skip
            per_key.append((time.perf_counter() - key_started, cpu_s() - key_cpu))
            metadata = _metadata(result, stage)
        seconds, cpu = time.perf_counter() - started, cpu_s() - cpu
    if len(per_key) > 1:  # does a file cost more as the corpus grows? first against last
        metadata |= {
            "first_file_s": round(per_key[0][0], 2), "first_file_cpu_s": round(per_key[0][1], 2),
            "last_file_s": round(per_key[-1][0], 2), "last_file_cpu_s": round(per_key[-1][1], 2),
        }  # fmt: skip
    return {"seconds": seconds, "cpu_s": cpu, "metadata": {"cpu_s": round(cpu, 2), **metadata}}


def cpu_s() -> float:
    """CPU seconds of this process (all threads) and of its finished children (parser workers):
    on a shared machine, far steadier than wall time."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _metadata(result: Any, stage: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for event in result.asset_materializations_for_node(stage):
        for key, value in event.metadata.items():
            raw = getattr(value, "value", value)
            if isinstance(raw, (int, float, str)) or raw is None:
                values[key] = raw
    return values


def retrieval_child(n_queries: int) -> dict[str, Any]:
    """BM25 top 4 for titles of the first copy, over the whole corpus (index already built)."""
    from mkailin_assets import settings
    from mkailin_assets.agents.retrieval import bm25_top_k, refresh_bm25_index
    from mkailin_assets.db import open_connection

    db_path = settings.get_settings().duckdb_path
    queries = sample_queries(db_path, n_queries)
    con = open_connection(db_path)
    refresh = refresh_bm25_index(con)
    bm25_top_k(con, queries.head(20), k=4)  # open the searcher
    started, cpu = time.perf_counter(), cpu_s()
    hits = bm25_top_k(con, queries, k=4)
    seconds, cpu = time.perf_counter() - started, cpu_s() - cpu
    (abstracts,) = con.execute(
        "SELECT count(*) FROM citations WHERE coalesce(abstract, '') <> ''"
    ).fetchall()[0]
    con.close()
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "metadata": {
            "cpu_ms_per_query": round(1000 * cpu / queries.height, 2),
            "queries": queries.height,
            "hits": hits.height,
            "qps": queries.height / seconds,
            "abstracts": int(abstracts),
            "refresh": refresh["action"],
        },
    }


# --------------------------------------------------------------------------- the parent


def run_stage(stage: str, args: argparse.Namespace, env: dict[str, str], files: list[str]) -> dict:
    command = [sys.executable, __file__, "--child", stage, "--category", args.category,
               "--queries", str(args.queries), "--files", ",".join(files)]  # fmt: skip
    figures, peak = run_measured(command, f"stage {stage}", REPO_ROOT, env)
    figures["peak_rss_mb"] = peak / 2**20
    return figures


def stage_env(workdir: Path, corpus: Path, args: argparse.Namespace) -> dict[str, str]:
    home = workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MKAILIN_DUCKDB_PATH": str(workdir / "mkailin.duckdb"),
        "MKAILIN_EXPORT_DIR": str(workdir / "exports"),
        "MKAILIN_DOWNLOAD_DIR": str(workdir / "downloads"),
        "MKAILIN_MESH_SOURCE": str(args.mesh),
        "MKAILIN_PUBMED_SOURCE": str(corpus),
        "MKAILIN_LLM_BACKEND": "offline",
        "MKAILIN_SAMPLE_PER_CATEGORY": str(args.sample),
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mkailin-scale-"))
    project = workdir / f"project-{args.copies}{'-perturbed' if args.perturb else ''}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    corpus_dir = workdir / f"corpus{'-perturbed' if args.perturb else ''}"
    started = time.perf_counter()
    files = [p.name for p in write_copies(args.baseline, args.copies, args.perturb, corpus_dir)]
    corpus = project / "pubmed"  # only this run's N files (the corpus folder may hold more)
    corpus.mkdir()
    for name in files:
        (corpus / name).symlink_to(corpus_dir / name)
    corpus_s = time.perf_counter() - started
    print(f"corpus: {args.copies} copies ready in {corpus_s:.1f} s", flush=True)
    env = stage_env(project, corpus, args)
    stages: dict[str, dict[str, Any]] = {}
    for stage in (*STAGES, "retrieval"):
        figures = run_stage(stage, args, env, files)
        stages[stage] = figures
        print(f"{stage:>16}: {figures['seconds']:8.2f} s  peak RSS {figures['peak_rss_mb']:7.0f}"
              f" MB  {json.dumps(figures['metadata'])[:160]}", flush=True)  # fmt: skip
    retrieval = stages.pop("retrieval")
    summary = {
        "copies": args.copies,
        "perturbed": args.perturb,
        "abstracts": retrieval["metadata"]["abstracts"],
        "category": args.category,
        "sample_per_category": args.sample,
        "stages": {
            name: {
                "seconds": round(f["seconds"], 2),
                "cpu_s": round(f["cpu_s"], 2),
                "peak_rss_mb": round(f["peak_rss_mb"], 1),
                **{k: v for k, v in f["metadata"].items() if k.startswith(("first_", "last_"))},
            }
            for name, f in stages.items()
        },
        "retrieval_qps": round(retrieval["metadata"]["qps"], 1),
        "retrieval_cpu_ms_per_query": retrieval["metadata"]["cpu_ms_per_query"],
        "retrieval_peak_rss_mb": round(retrieval["peak_rss_mb"], 1),
        "peak_rss_mb": round(max(f["peak_rss_mb"] for f in [*stages.values(), retrieval]), 1),
    }
    if not args.keep:
        shutil.rmtree(project, ignore_errors=True)
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--perturb", action="store_true", help="make copies differ")
    parser.add_argument("--category", default="C")
    parser.add_argument("--sample", type=int, default=40, help="MKAILIN_SAMPLE_PER_CATEGORY")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--baseline", type=Path, default=BASELINE_FILE)
    parser.add_argument("--mesh", type=Path, default=MESH_FILE)
    parser.add_argument("--workdir", help="keep generated copies here (reused across runs)")
    parser.add_argument("--keep", action="store_true", help="keep the project (DuckDB, index)")
    parser.add_argument("--child", choices=(*STAGES, "retrieval"), help=argparse.SUPPRESS)
    parser.add_argument("--files", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        files = [f for f in args.files.split(",") if f]
        print(json.dumps(stage_child(args.child, args.category, files, args.queries)))
        return
    for needed in (args.baseline, args.mesh):
        if not needed.exists():
            sys.exit(f"real NLM file absent: {needed} (see ../shared/data/README.md)")
    summary = run(args)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
