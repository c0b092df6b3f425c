"""MeSH hierarchy score benchmark (docs/method.md#the-mesh-score) on the real baseline + MeSH 2024.

1,000 sources x 2 questions (title, first sentence of the abstract) x BM25 top-4 contexts =
8,000 (question, context) pairs, scored by score_candidates (set-wise SQL) and by a plain Python
implementation with a pair cache (as the method notes describe); prints timings, agreement of
the two, mean scores for retrieved / random / self contexts (best_match and all_pairs), the gap
between a source's two candidates and the share labelled at margins 0.05 and 0.1. One JSON line.

    .venv/bin/python benchmarks/mesh_score.py [--sources 1000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from lxml import etree

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from retrieval import BASELINE_FILE, load_corpus, parse_baseline  # noqa: E402

from mkailin_assets.agents.mesh_similarity import build_ic_snapshot, score_candidates  # noqa: E402
from mkailin_assets.agents.retrieval import bm25_top_k, refresh_bm25_index  # noqa: E402
from mkailin_assets.db import apply_schema, open_connection  # noqa: E402

MESH_2024 = REPO_ROOT.parent / "shared" / "data" / "mesh" / "mesh2024-trees.xml.gz"
K = 4


def parse_mesh_tree(path: Path = MESH_2024) -> pl.DataFrame:
    """mesh_tree rows (category, tree_number, descriptor_ui, descriptor_name, depth, parent)."""
    rows = []
    with gzip.open(path, "rb") as handle:
        for _, record in etree.iterparse(handle, tag="DescriptorRecord"):
            ui = record.findtext("DescriptorUI")
            name = record.findtext("DescriptorName/String")
            for tree_number in record.iterfind("TreeNumberList/TreeNumber"):
                tn = tree_number.text.strip()
                parent = tn.rsplit(".", 1)[0] if "." in tn else None
                rows.append((tn[0], tn, ui, name, tn.count(".") + 1, parent))
            record.clear()
    return pl.DataFrame(
        rows,
        schema=["category", "tree_number", "descriptor_ui", "descriptor_name", "depth",
                "parent_tree_number"],
        orient="row",
    )  # fmt: skip


def load_tree(con: duckdb.DuckDBPyConnection, tree: pl.DataFrame) -> None:
    con.register("_tree", tree)
    con.execute(
        "INSERT INTO mesh_tree SELECT category, tree_number, descriptor_ui, descriptor_name,"
        " depth, parent_tree_number, 2024 FROM _tree"
    )
    con.unregister("_tree")


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip(), maxsplit=1)[0]


class PythonScorer:
    """The straightforward implementation: per-pair Python with a pair cache."""

    def __init__(self, con: duckdb.DuckDBPyConnection, snapshot_id: str):
        self.trees: dict[str, list[tuple[str, ...]]] = {}
        for ui, tn in con.execute("SELECT descriptor_ui, tree_number FROM mesh_tree").fetchall():
            self.trees.setdefault(ui, []).append(tuple(tn.split(".")))
        self.at = dict(con.execute("SELECT tree_number, descriptor_ui FROM mesh_tree").fetchall())
        self.ic = {}
        self.p = {}
        for ui, p, ic in con.execute(
            "SELECT descriptor_ui, p, ic FROM mesh_ic WHERE snapshot_id = ?", [snapshot_id]
        ).fetchall():
            self.ic[ui], self.p[ui] = ic, p
        self.mesh: dict[int, list[str]] = {}
        for pmid, ui in con.execute("SELECT pmid, descriptor_ui FROM citation_mesh").fetchall():
            self.mesh.setdefault(pmid, []).append(ui)
        self.cache: dict[tuple[str, str], float] = {}

    def sim(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        key = (a, b)
        if key in self.cache:
            return self.cache[key]
        best: tuple[int, float, str] | None = None
        for ta in self.trees.get(a, []):
            for tb in self.trees.get(b, []):
                depth = 0
                for x, y in zip(ta, tb, strict=False):
                    if x != y:
                        break
                    depth += 1
                if depth == 0:
                    continue
                lca = self.at[".".join(ta[:depth])]
                option = (depth, self.ic[lca], lca)
                if (
                    best is None
                    or (option[0], option[1]) > (best[0], best[1])
                    or (option[:2] == best[:2] and lca < best[2])
                ):
                    best = option
        if best is None:
            value = 0.0
        else:
            ic_a, ic_b, ic_l, p_l = self.ic[a], self.ic[b], best[1], self.p[best[2]]
            lin = 2 * ic_l / (ic_a + ic_b) if ic_a + ic_b > 0 else 0.0
            jc = 1 - min(1.0, ic_a + ic_b - 2 * ic_l)
            rel = lin * (1 - p_l)
            value = sum(min(1.0, max(0.0, v)) for v in (lin, jc, rel)) / 3
        self.cache[key] = value
        return value

    def setsim(self, s: list[str], c: list[str], setsim: str) -> float:
        if setsim == "all_pairs":
            return sum(self.sim(a, b) for a in s for b in c) / (len(s) * len(c))
        forward = sum(max(self.sim(a, b) for b in c) for a in s) / len(s)
        backward = sum(max(self.sim(a, b) for a in s) for b in c) / len(c)
        return (forward + backward) / 2

    def score(self, source: int, contexts: list[int], setsim: str) -> float | None:
        s = self.mesh.get(source)
        values = [self.setsim(s, self.mesh[c], setsim) for c in contexts if c in self.mesh]
        return sum(values) / len(values) if s and values else None


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def run(n_sources: int) -> dict[str, object]:
    cites, mesh = parse_baseline()
    con = open_connection(":memory:")
    apply_schema(con)
    con.complete()  # apply_schema ends on fetchone(), which leaves a result open in DuckDB 2.0
    load_corpus(con, cites, mesh)
    load_tree(con, parse_mesh_tree())
    refresh_bm25_index(con)

    sources = con.sql(
        """
        SELECT pmid, title, abstract FROM citations
        WHERE abstract IS NOT NULL AND title IS NOT NULL
          AND pmid IN (SELECT pmid FROM citation_mesh)
        ORDER BY hash(pmid), pmid LIMIT $n
        """,
        params={"n": n_sources},
    ).pl()
    queries = pl.concat(
        [
            sources.select(
                (pl.col("pmid").cast(pl.String) + ":title").alias("query_id"),
                pl.col("title").alias("text"),
                "pmid",
            ),
            sources.select(
                (pl.col("pmid").cast(pl.String) + ":first").alias("query_id"),
                pl.col("abstract")
                .map_elements(first_sentence, return_dtype=pl.String)
                .alias("text"),
                "pmid",
            ),
        ]
    )
    top, retrieve_s = timed(bm25_top_k, con, queries.select("query_id", "text"), k=K)
    retrieved = (
        top.group_by("query_id")
        .agg(pl.col("pmid").sort_by("rank").alias("context_pmids"))
        .join(queries.select("query_id", pl.col("pmid").alias("source_pmid")), on="query_id")
        .rename({"query_id": "candidate_id"})
        .sort("candidate_id")
    )
    source_in_top = retrieved.filter(
        pl.col("context_pmids").list.contains(pl.col("source_pmid"))
    ).height / max(retrieved.height, 1)

    snapshot, ic_s = timed(build_ic_snapshot, con)
    _, ic_reuse_s = timed(build_ic_snapshot, con)
    rng = random.Random(14)
    with_mesh = [
        p for (p,) in con.execute("SELECT DISTINCT pmid FROM citation_mesh ORDER BY 1").fetchall()
    ]
    random_sets = pl.DataFrame(
        {
            "candidate_id": [f"{p}:random" for p in sources["pmid"]],
            "source_pmid": sources["pmid"],
            "context_pmids": [rng.sample(with_mesh, K) for _ in range(sources.height)],
        }
    )
    self_sets = pl.DataFrame(
        {
            "candidate_id": [f"{p}:self" for p in sources["pmid"]],
            "source_pmid": sources["pmid"],
            "context_pmids": [[p] for p in sources["pmid"]],
        }
    )

    figures: dict[str, object] = {
        "benchmark": "mesh_score",
        "citations_with_mesh": int(con.execute(
            "SELECT count(DISTINCT pmid) FROM citation_mesh").fetchall()[0][0]),
        "sources": sources.height,
        "candidates": retrieved.height,
        "question_context_pairs": int(retrieved["context_pmids"].list.len().sum()),
        "bm25_retrieve_s": round(retrieve_s, 3),
        "source_in_top4": round(source_in_top, 4),
        "ic_snapshot_s": round(ic_s, 3),
        "ic_snapshot_reuse_s": round(ic_reuse_s, 3),
    }  # fmt: skip
    gaps: dict[str, np.ndarray] = {}
    for setsim in ("best_match", "all_pairs"):
        scores, sql_s = timed(score_candidates, con, retrieved, setsim=setsim, snapshot_id=snapshot)
        _, sql_again_s = timed(
            score_candidates, con, retrieved, setsim=setsim, snapshot_id=snapshot
        )
        scorer = PythonScorer(con, snapshot)
        started = time.perf_counter()
        reference = [
            scorer.score(s, c, setsim)
            for s, c in zip(
                retrieved["source_pmid"], retrieved["context_pmids"].to_list(), strict=True
            )
        ]
        python_s = time.perf_counter() - started
        ours = scores["mesh_score"].to_list()
        diffs = [
            abs(a - b)
            for a, b in zip(ours, reference, strict=True)
            if a is not None and b is not None
        ]
        nulls_agree = all((a is None) == (b is None) for a, b in zip(ours, reference, strict=True))
        random_scores = score_candidates(con, random_sets, setsim=setsim, snapshot_id=snapshot)
        self_scores = score_candidates(con, self_sets, setsim=setsim, snapshot_id=snapshot)
        by_source = scores.join(retrieved.select("candidate_id", "source_pmid"), on="candidate_id")
        pairs = by_source.group_by("source_pmid").agg(pl.col("mesh_score").drop_nulls())
        gap = np.asarray([abs(v[0] - v[1]) for v in pairs["mesh_score"].to_list() if len(v) == 2])
        gaps[setsim] = gap
        figures |= {
            f"{setsim}_sql_s": round(sql_s, 3),
            f"{setsim}_sql_repeat_s": round(sql_again_s, 3),
            f"{setsim}_python_cached_s": round(python_s, 3),
            f"{setsim}_speedup_vs_python": round(python_s / sql_s, 2),
            f"{setsim}_max_abs_diff_vs_python": float(f"{max(diffs):.2e}") if diffs else None,
            f"{setsim}_nulls_agree": nulls_agree,
            f"{setsim}_mean_retrieved": round(float(scores["mesh_score"].mean()), 4),
            f"{setsim}_mean_random": round(float(random_scores["mesh_score"].mean()), 4),
            f"{setsim}_mean_self": round(float(self_scores["mesh_score"].mean()), 4),
            f"{setsim}_null_scores": int(scores["mesh_score"].null_count()),
            f"{setsim}_gap_median": round(float(np.median(gap)), 4),
            f"{setsim}_gap_p25": round(float(np.quantile(gap, 0.25)), 4),
            f"{setsim}_gap_p75": round(float(np.quantile(gap, 0.75)), 4),
            f"{setsim}_gap_p90": round(float(np.quantile(gap, 0.9)), 4),
            f"{setsim}_labelled_at_0.05": round(float(np.mean(gap >= 0.05)), 4),
            f"{setsim}_labelled_at_0.1": round(float(np.mean(gap >= 0.1)), 4),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=int, default=1000)
    args = parser.parse_args()
    for path in (BASELINE_FILE, MESH_2024):
        if not path.exists():
            sys.exit(f"real NLM data absent: {path} (see ../shared/data/README.md)")
    figures = run(args.sources)
    for name, value in figures.items():
        print(f"{name:>36}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
