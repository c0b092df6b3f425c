"""What split-aware retrieval costs (docs/method.md#held-out-splits-and-benchmark-twins): on
the 2020 baseline file with the whole MeSH 2024 vocabulary, the same questions retrieve BM25 top-k contexts from every
citation, then only from citations of the question's split (stages/split_retrieval.py). Prints,
for train candidates: the share whose contexts changed, the mean MeSH score (best_match, IC)
before and after and the shift; for held-out candidates, the same and how many came up short of
k; the time of both retrievals. Ends with one JSON line.

    .venv/bin/python benchmarks/split_contexts.py [--sources 1000] [--k 4]

Questions stand in for the question agents' as in benchmarks/mesh_score.py: each source's title
and the first sentence of its abstract.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
BASELINE = REPO_ROOT.parent / "shared" / "data" / "pubmed" / "pubmed20n0014.xml.gz"
MESH_2024 = REPO_ROOT.parent / "shared" / "data" / "mesh" / "mesh2024-trees.xml.gz"

from mkailin_assets.agents.mesh_similarity import build_ic_snapshot, score_candidates  # noqa: E402
from mkailin_assets.agents.retrieval import refresh_bm25_index, retrieve  # noqa: E402
from mkailin_assets.curation.splits import DEFAULT_RATIOS, SplitRule  # noqa: E402
from mkailin_assets.db import apply_schema, open_connection  # noqa: E402
from mkailin_assets.ingest.mesh_xml import load_mesh_descriptors  # noqa: E402
from mkailin_assets.ingest.pubmed_loader import load_pubmed_file  # noqa: E402
from mkailin_assets.stages.split_retrieval import split_safe_contexts  # noqa: E402


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip(), maxsplit=1)[0]


def questions(con, n: int) -> pl.DataFrame:
    sources = con.sql(
        """SELECT pmid, title, abstract FROM citations
           WHERE abstract IS NOT NULL AND title IS NOT NULL
             AND pmid IN (SELECT pmid FROM citation_mesh)
           ORDER BY hash(pmid), pmid LIMIT $n""",
        params={"n": n},
    ).pl()
    title = sources.select(
        (pl.col("pmid").cast(pl.String) + ":title").alias("candidate_id"),
        pl.col("title").alias("question"),
        pl.col("pmid").alias("source_pmid"),
    )
    first = sources.select(
        (pl.col("pmid").cast(pl.String) + ":first").alias("candidate_id"),
        pl.col("abstract").map_elements(first_sentence, return_dtype=pl.String).alias("question"),
        pl.col("pmid").alias("source_pmid"),
    )
    return pl.concat([title, first])


def plain_contexts(con, asked: pl.DataFrame, k: int) -> pl.DataFrame:
    hits = retrieve(con, asked.select(query_id="candidate_id", text="question"), k=k)
    return (
        hits.sort("query_id", "rank")
        .group_by("query_id", maintain_order=True)
        .agg(pl.col("pmid").alias("context_pmids"))
        .rename({"query_id": "candidate_id"})
    )


def mean(values: pl.Series) -> float | None:
    values = values.drop_nulls()
    return float(values.mean()) if values.len() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    for needed in (BASELINE, MESH_2024):
        if not needed.is_file():
            raise SystemExit(f"file not found: {needed} (see ../shared/data/README.md)")
    rule = SplitRule(DEFAULT_RATIOS)
    with tempfile.TemporaryDirectory() as folder:
        con = open_connection(Path(folder) / "bench.duckdb")
        apply_schema(con)
        load_mesh_descriptors(con, MESH_2024)
        load_pubmed_file(con, BASELINE)
        refresh_bm25_index(con)
        asked = questions(con, args.sources)
        started = time.perf_counter()
        plain = plain_contexts(con, asked, args.k)
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        safe = split_safe_contexts(con, asked, rule, "bm25", args.k).select(
            "candidate_id", "context_pmids"
        )
        safe_s = time.perf_counter() - started
        keyed = asked.select("candidate_id", "source_pmid").with_columns(
            rule.splits_of(asked["source_pmid"]).alias("split")
        )
        snapshot = build_ic_snapshot(con)
        scored = {}
        for name, contexts in (("plain", plain), ("split_aware", safe)):
            frame = keyed.join(contexts, on="candidate_id")
            scores = score_candidates(con, frame, snapshot_id=snapshot)
            scored[name] = frame.join(
                scores.select("candidate_id", "mesh_score"), on="candidate_id"
            ).rename({"context_pmids": f"contexts_{name}", "mesh_score": f"score_{name}"})
        both = scored["plain"].join(
            scored["split_aware"].drop("source_pmid", "split"), on="candidate_id"
        )
        foreign_before = rule.foreign_contexts(
            both.select("source_pmid", context_pmids="contexts_plain")
        ).height
        foreign_after = rule.foreign_contexts(
            both.select("source_pmid", context_pmids="contexts_split_aware")
        ).height
        con.close()
    both = both.with_columns(
        (pl.col("contexts_plain") != pl.col("contexts_split_aware")).alias("changed"),
        pl.col("contexts_split_aware").list.len().alias("n_after"),
    )
    figures: dict[str, object] = {"benchmark": "split_contexts", "sources": args.sources,
                                  "k": args.k, "candidates": both.height}  # fmt: skip
    for group, frame in (
        ("train", both.filter(pl.col("split") == "train")),
        ("held_out", both.filter(pl.col("split") != "train")),
    ):
        before, after = mean(frame["score_plain"]), mean(frame["score_split_aware"])
        figures[group] = {
            "candidates": frame.height,
            "contexts_changed_share": round(float(frame["changed"].mean() or 0), 4),
            "mean_mesh_score_before": round(before, 4) if before is not None else None,
            "mean_mesh_score_after": round(after, 4) if after is not None else None,
            "mesh_score_shift": round(after - before, 4) if None not in (before, after) else None,
            "short_of_k": int((frame["n_after"] < args.k).sum()),
        }
        print(f"{group}: {json.dumps(figures[group])}")
    figures["foreign_contexts_before"] = foreign_before
    figures["foreign_contexts_after"] = foreign_after
    figures["plain_retrieval_s"] = round(plain_s, 3)
    figures["split_aware_retrieval_s"] = round(safe_s, 3)
    print(f"contexts of another split: {foreign_before} before, {foreign_after} after")
    print(f"retrieval: {plain_s:.2f} s plain, {safe_s:.2f} s split-aware")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
