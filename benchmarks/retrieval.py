"""BM25 retrieval benchmark: our on-disk index against bm25s and the former SQL BM25, one corpus.

Corpus: N renumbered copies of the real 2020 PubMed baseline file, title + abstract (distinct
PMIDs; with --perturb copy c's abstracts end with c copy tokens, so copies are neither identical
nor of equal length). Queries: titles of a deterministic sample of abstracts of the first copy.
Each engine runs in its own subprocess on the same DuckDB file, so build seconds, query
throughput and peak RSS are its own. Figures: q/s, build s, peak RSS per engine; mean top-k overlap with bm25s (the reference
Lucene BM25, k1 1.5, b 0.75); how often our top 4 equals the SQL BM25's top 4 (the contexts
candidate_qa stores). Ends with one JSON line.

    .venv/bin/python benchmarks/retrieval.py [--copies 1] [--queries 500] [--k 10] [--no-sql]
        [--perturb] [--trials T]   (T interleaved trials; figures from the median trial)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

BASELINE_FILE = REPO_ROOT.parent / "shared" / "data" / "pubmed" / "pubmed20n0014.xml.gz"
PMID_STRIDE = 100_000_000  # copy c of PMID p is p + c * stride (2020 PMIDs stay below 4e7)
ENGINES = ("ours", "bm25s", "sql")


def parse_baseline(path: Path = BASELINE_FILE) -> pl.DataFrame:
    """pmid, title, abstract of every citation of the file, streamed (lxml)."""
    import gzip

    from lxml import etree

    def text(element: Any) -> str | None:
        if element is None:
            return None
        joined = " ".join("".join(element.itertext()).split())
        return joined or None

    rows: dict[int, tuple[str | None, str | None]] = {}
    with gzip.open(path, "rb") as handle:
        for _, article in etree.iterparse(handle, tag="PubmedArticle"):
            pmid = int(article.findtext("MedlineCitation/PMID"))
            title = text(article.find("MedlineCitation/Article/ArticleTitle"))
            parts = [
                text(a) for a in article.iterfind("MedlineCitation/Article/Abstract/AbstractText")
            ]
            rows[pmid] = (title, " ".join(p for p in parts if p) or None)
            article.clear()
            while article.getprevious() is not None:
                del article.getparent()[0]
    return pl.DataFrame(
        [(p, t, a) for p, (t, a) in rows.items()],
        schema={"pmid": pl.Int64, "title": pl.String, "abstract": pl.String},
        orient="row",
    )


def build_corpus(db_path: Path, copies: int, perturb: bool) -> int:
    """A DuckDB file whose `citations` hold `copies` renumbered copies; returns its row count."""
    from mkailin_assets.db import apply_schema, open_connection

    base = parse_baseline()
    con = open_connection(db_path)
    apply_schema(con)
    con.complete()
    con.register("_base", base)
    # Copy c gets c copy tokens: every copy has its own length, so no two copies of an abstract
    # tie exactly (exact twins would leave the top lists to floating-point noise).
    suffix = "repeat(' copy' || c::VARCHAR, c::INTEGER)" if perturb else "''"
    con.execute(f"""
        INSERT INTO citations (pmid, version, title, abstract, source_file, content_hash, loaded_at)
        SELECT pmid + c * {PMID_STRIDE}, 1, title,
               CASE WHEN abstract IS NULL THEN NULL ELSE abstract || {suffix} END,
               'bench', md5(concat_ws('|', pmid + c * {PMID_STRIDE}, title, abstract)), now()
        FROM _base, range({copies}) r(c)
    """)
    con.unregister("_base")
    (rows,) = con.execute("SELECT count(*) FROM citations").fetchall()[0]
    con.close()
    return int(rows)


def sample_queries(db_path: Path, n: int) -> pl.DataFrame:
    from mkailin_assets.db import open_connection

    con = open_connection(db_path, read_only=True)
    frame = con.sql(
        f"""SELECT pmid::VARCHAR AS query_id, title AS text FROM citations
            WHERE abstract IS NOT NULL AND title IS NOT NULL AND pmid < {PMID_STRIDE}
            ORDER BY hash(pmid), pmid LIMIT $n""",
        params={"n": n},
    ).pl()
    con.close()
    return frame


def cpu_s() -> float:
    """CPU seconds of this process, all threads (user + system): less load-dependent than wall."""
    times = os.times()
    return times.user + times.system


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- engine workers


def work_ours(db_path: Path, queries: pl.DataFrame, k: int) -> dict[str, Any]:
    from mkailin_assets.agents import search_index
    from mkailin_assets.agents.retrieval import bm25_top_k, refresh_bm25_index
    from mkailin_assets.db import open_connection

    con = open_connection(db_path)
    started, cpu = time.perf_counter(), cpu_s()
    report = refresh_bm25_index(con)
    build_s, build_cpu_s = time.perf_counter() - started, cpu_s() - cpu
    build_rss = peak_rss_mb()
    noop = refresh_bm25_index(con)
    timings = {}
    for n_threads in (1, 2):
        os.environ["MKAILIN_RETRIEVAL_THREADS"] = str(n_threads)
        bm25_top_k(con, queries.head(20), k=k)  # open the searcher, warm the idf cache
        search_index._OPEN.clear()
        started, cpu = time.perf_counter(), cpu_s()
        hits = bm25_top_k(con, queries, k=k)
        timings[n_threads] = time.perf_counter() - started
        cpu_used = cpu_s() - cpu
    size = sum(f.stat().st_size for f in search_index.index_dir(con).iterdir())
    con.close()
    return {
        "hits": hits.select("query_id", "rank", "pmid").rows(),
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "query_cpu_s": cpu_used,
        "build_peak_rss_mb": build_rss,
        "refresh_nothing_new_s": noop["seconds"],
        "query_s": timings[2],
        "query_s_1_thread": timings[1],
        "index_mb": size / 2**20,
        "documents": report["documents"],
    }


def work_bm25s(db_path: Path, queries: pl.DataFrame, k: int) -> dict[str, Any]:
    import bm25s

    from mkailin_assets.agents.tokenize import tokenize
    from mkailin_assets.db import open_connection

    con = open_connection(db_path, read_only=True)
    corpus = con.sql(
        "SELECT pmid, concat_ws(' ', title, abstract) AS text FROM citations"
        " WHERE coalesce(title, '') <> '' OR coalesce(abstract, '') <> '' ORDER BY pmid"
    ).pl()
    con.close()
    started = time.perf_counter()
    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    retriever.index([tokenize(t) for t in corpus["text"]], show_progress=False)
    build_s = time.perf_counter() - started
    pmids = corpus["pmid"].to_list()
    del corpus
    started = time.perf_counter()
    docs, _ = retriever.retrieve(
        [tokenize(t) for t in queries["text"]], k=k, show_progress=False, n_threads=2
    )
    query_s = time.perf_counter() - started
    hits = [
        (q, rank + 1, pmids[int(d)])
        for q, row in zip(queries["query_id"], docs, strict=True)
        for rank, d in enumerate(row)
    ]
    return {"hits": hits, "build_s": build_s, "query_s": query_s}


def work_sql(db_path: Path, queries: pl.DataFrame, k: int) -> dict[str, Any]:
    from mkailin_assets.agents.retrieval import bm25_sql_top_k, refresh_bm25_sql_index
    from mkailin_assets.db import open_connection

    con = open_connection(db_path)
    for table in ("bm25_postings", "bm25_docs", "bm25_terms"):  # every trial builds from scratch
        con.execute(f"DELETE FROM {table}")
    started, cpu = time.perf_counter(), cpu_s()
    refresh_bm25_sql_index(con)
    build_s, build_cpu_s = time.perf_counter() - started, cpu_s() - cpu
    started, cpu = time.perf_counter(), cpu_s()
    hits = bm25_sql_top_k(con, queries, k=k)
    query_s, query_cpu_s = time.perf_counter() - started, cpu_s() - cpu
    con.close()
    return {
        "hits": hits.select("query_id", "rank", "pmid").rows(),
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "query_s": query_s,
        "query_cpu_s": query_cpu_s,
    }


WORKERS = {"ours": work_ours, "bm25s": work_bm25s, "sql": work_sql}


def run_engine(engine: str, db_path: Path, queries_path: Path, k: int, trial: int) -> dict:
    out = queries_path.with_name(f"{engine}-{trial}.json")
    # A fresh index directory per trial, so every trial of ours builds from scratch.
    env = {**os.environ, "MKAILIN_RETRIEVAL_INDEX_DIR": str(db_path.with_name(f"bm25-{trial}"))}
    if engine == "sql":  # its postings aggregation needs GBs at 64 copies; DuckDB's cap is 512 MB
        env.setdefault("MKAILIN_DUCKDB_MEMORY_LIMIT", "12GB")
    subprocess.run(
        [sys.executable, __file__, "--worker", engine, "--db", str(db_path),
         "--queries-file", str(queries_path), "--k", str(k), "--out", str(out)],
        check=True, env=env,
    )  # fmt: skip
    return json.loads(out.read_text())


def median_trial(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial with the median query time, with the highest peak memory of any trial."""
    chosen = dict(sorted(trials, key=lambda t: t["query_s"])[len(trials) // 2])
    for key in ("peak_rss_mb", "build_peak_rss_mb"):
        if key in chosen:
            chosen[key] = max(t[key] for t in trials)
    chosen["build_s"] = sorted(t["build_s"] for t in trials)[len(trials) // 2]
    return chosen


def top_lists(hits: list[list[Any]], depth: int) -> dict[str, list[int]]:
    lists: dict[str, list[tuple[int, int]]] = {}
    for query_id, rank, pmid in hits:
        lists.setdefault(str(query_id), []).append((int(rank), int(pmid)))
    return {q: [p for r, p in sorted(v) if r <= depth] for q, v in lists.items()}


def overlap_at(a: list[list[Any]], b: list[list[Any]], k: int) -> float:
    """Mean share of b's top k that a's top k also holds (b is the reference)."""
    first, second = top_lists(a, k), top_lists(b, k)
    shares = [len(set(first.get(q, [])) & set(second[q])) / k for q in second]
    return round(sum(shares) / len(shares), 4)


def run(
    copies: int,
    n_queries: int,
    k: int,
    sql: bool,
    perturb: bool,
    trials: int = 1,
    bm25s: bool = True,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mkailin-retrieval-bench-") as folder:
        db_path = Path(folder) / "bench.duckdb"
        started = time.perf_counter()
        citations = build_corpus(db_path, copies, perturb)
        corpus_s = time.perf_counter() - started
        queries = sample_queries(db_path, n_queries)
        queries_path = Path(folder) / "queries.parquet"
        queries.write_parquet(queries_path)
        engines = [e for e in ENGINES if (sql or e != "sql") and (bm25s or e != "bm25s")]
        # Trials interleave the engines, so a slow spell of the (shared) machine hits all of them.
        runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
        for trial in range(trials):
            for engine in engines:
                runs[engine].append(run_engine(engine, db_path, queries_path, k, trial))
        results = {e: median_trial(r) for e, r in runs.items()}
        qps = {e: [round(queries.height / t["query_s"], 1) for t in r] for e, r in runs.items()}
    ours = results["ours"]
    figures: dict[str, Any] = {
        "benchmark": "retrieval",
        "copies": copies,
        "citations": citations,
        "docs": ours["documents"],
        "queries": queries.height,
        "k": k,
        "trials": trials,
        "qps_per_trial": qps,
        "corpus_setup_s": round(corpus_s, 1),
        "ours_build_s": round(ours["build_s"], 2),
        "ours_refresh_nothing_new_s": ours["refresh_nothing_new_s"],
        "ours_index_mb": round(ours["index_mb"], 1),
        "ours_qps": round(queries.height / ours["query_s"], 1),
        "ours_qps_1_thread": round(queries.height / ours["query_s_1_thread"], 1),
        "ours_build_cpu_s": round(ours["build_cpu_s"], 2),
        "ours_query_cpu_ms": round(1000 * ours["query_cpu_s"] / queries.height, 2),
        "ours_peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "ours_build_peak_rss_mb": round(ours["build_peak_rss_mb"], 1),
    }
    if "bm25s" in results:
        ref = results["bm25s"]
        figures |= {
            "bm25s_build_s": round(ref["build_s"], 2),
            "bm25s_qps": round(queries.height / ref["query_s"], 1),
            "bm25s_peak_rss_mb": round(ref["peak_rss_mb"], 1),
            "overlap_at_10": overlap_at(ours["hits"], ref["hits"], k),
            "same_top4_as_bm25s": _same_top4(ours["hits"], ref["hits"]),
        }
    if "sql" in results:
        sql_result = results["sql"]
        figures |= {
            "sql_build_s": round(sql_result["build_s"], 2),
            "sql_qps": round(queries.height / sql_result["query_s"], 1),
            "sql_build_cpu_s": round(sql_result["build_cpu_s"], 2),
            "sql_query_cpu_ms": round(1000 * sql_result["query_cpu_s"] / queries.height, 2),
            "sql_peak_rss_mb": round(sql_result["peak_rss_mb"], 1),
            "ours_over_sql_qps": round(sql_result["query_s"] / ours["query_s"], 2),
            "same_top4_as_sql": _same_top4(ours["hits"], sql_result["hits"]),
            "overlap_at_10_vs_sql": overlap_at(ours["hits"], sql_result["hits"], k),
        }
    return figures


def _same_top4(a: list[list[Any]], b: list[list[Any]]) -> float:
    first, second = top_lists(a, 4), top_lists(b, 4)
    keys = set(first) | set(second)
    return round(sum(first.get(q) == second.get(q) for q in keys) / len(keys), 4)


def worker_main(args: argparse.Namespace) -> None:
    queries = pl.read_parquet(args.queries_file)
    result = WORKERS[args.worker](Path(args.db), queries, args.k)
    result["peak_rss_mb"] = peak_rss_mb()
    Path(args.out).write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-sql", action="store_true", help="skip the SQL BM25 (slow, big)")
    parser.add_argument("--perturb", action="store_true", help="make copies differ")
    parser.add_argument("--trials", type=int, default=1, help="interleaved trials (median)")
    parser.add_argument("--no-bm25s", action="store_true", help="skip bm25s (slow, 9 GB at 64)")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    if not BASELINE_FILE.exists():
        sys.exit(f"real baseline file absent: {BASELINE_FILE} (see ../shared/data/README.md)")
    figures = run(
        args.copies, args.queries, args.k, not args.no_sql, args.perturb, args.trials,
        bm25s=not args.no_bm25s,
    )  # fmt: skip
    for name, value in figures.items():
        print(f"{name:>28}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
