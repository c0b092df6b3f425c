"""Split-aware context retrieval: a record's contexts come only from citations its split may
see (curation/splits.SplitRule: a PMID hashing to the record's own split), so no validation or
test source is ever read by a model trained on `train`, and no train abstract answers a
held-out question.

Retrieval asks for 2k / (the split's share of the corpus) hits (8 for a train question at
k = 4, 160 for a held-out one at 5%) and keeps the top k of the record's split, asking again
4x deeper only for the questions that came up short.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import duckdb
import polars as pl

from mkailin_assets.agents.retrieval import contexts_per_query, retrieve
from mkailin_assets.curation.splits import SplitRule

MAX_DEPTH = 4_096  # hits asked for one question at most; fewer than k of its split is then kept

CONTEXT_SCHEMA = {
    "candidate_id": pl.String,
    "context_pmids": pl.List(pl.Int64),
    "context_scores": pl.List(pl.Float64),
}


def _allowed_top_k(
    hits: pl.DataFrame, splits: pl.DataFrame, rule: SplitRule, k: int
) -> pl.DataFrame:
    """The top k hits of each query whose PMID hashes to the query's split, ranks renumbered."""
    hits = hits.join(splits, on="query_id")
    hits = hits.with_columns(rule.splits_of(hits["pmid"]).alias("_s"))  # aligned with the join
    return (
        hits.filter(pl.col("_s") == pl.col("split"))
        .sort("query_id", "rank")
        .with_columns(pl.int_range(1, pl.len() + 1).over("query_id").alias("rank"))
        .filter(pl.col("rank") <= k)
        .select("query_id", "rank", "pmid", "score")
    )


def split_safe_hits(
    con: duckdb.DuckDBPyConnection,
    questions: pl.DataFrame,
    rule: SplitRule,
    method: str,
    k: int,
    embedding: tuple[Any, str | None] = (None, None),
    exclude_pmids: Iterable[int] | None = None,
) -> pl.DataFrame:
    """(query_id, rank, pmid, score): the top k of each question (candidate_id, question,
    source_pmid) among the citations of its source's split."""
    splits = questions.select(
        pl.col("candidate_id").alias("query_id"),
        rule.splits_of(questions["source_pmid"]).alias("split"),
    )
    asked = questions.select(
        pl.col("candidate_id").alias("query_id"), pl.col("question").alias("text")
    )
    excluded = None if exclude_pmids is None else set(exclude_pmids)
    kept = []
    for split, group in splits.group_by("split", maintain_order=True):
        # A split holding a share r of the corpus gives about r * depth hits: ask for 2k / r.
        share = max(rule.ratios.get(str(split[0]), 1.0), 1e-3)
        depth = min(MAX_DEPTH, max(2 * k, math.ceil(2 * k / share)))
        pending = asked.join(group.select("query_id"), on="query_id", maintain_order="left")
        kept += _rounds(con, pending, splits, rule, method, k, depth, embedding, excluded)
    return pl.concat(kept) if kept else pl.DataFrame(schema={"query_id": pl.String})


def _rounds(
    con: duckdb.DuckDBPyConnection,
    pending: pl.DataFrame,
    splits: pl.DataFrame,
    rule: SplitRule,
    method: str,
    k: int,
    depth: int,
    embedding: tuple[Any, str | None],
    excluded: set[int] | None,
) -> list[pl.DataFrame]:
    """Retrieve at `depth`, keep each question's top k of its split, and ask again x4 deeper
    for the questions that came up short while more hits may exist."""
    embed, model_name = embedding
    kept = []
    while not pending.is_empty():
        hits = retrieve(
            con, pending, method=method, k=depth, embed=embed, model_name=model_name,
            exclude_pmids=excluded,
        )  # fmt: skip
        allowed = _allowed_top_k(hits, splits, rule, k)
        counts = allowed.group_by("query_id").len()
        # A question given fewer hits than asked has no more to give (also one given none).
        deep = hits.group_by("query_id").len().filter(pl.col("len") >= depth)["query_id"]
        exhausted = pending.filter(~pl.col("query_id").is_in(deep.implode()))["query_id"]
        full = counts.filter(pl.col("len") >= k)["query_id"]
        done = pl.concat([full, exhausted]) if depth < MAX_DEPTH else pending["query_id"]
        kept.append(allowed.filter(pl.col("query_id").is_in(done.implode())))
        pending = pending.filter(~pl.col("query_id").is_in(done.implode()))
        depth = min(depth * 4, MAX_DEPTH)
    return kept


def split_safe_contexts(
    con: duckdb.DuckDBPyConnection,
    questions: pl.DataFrame,
    rule: SplitRule,
    method: str,
    k: int,
    embedding: tuple[Any, str | None] = (None, None),
    exclude_pmids: Iterable[int] | None = None,
) -> pl.DataFrame:
    """candidate_id, context_pmids, context_scores (as stages/candidates.retrieve_contexts)."""
    if questions.is_empty():
        return pl.DataFrame(schema=CONTEXT_SCHEMA)
    hits = split_safe_hits(con, questions, rule, method, k, embedding, exclude_pmids)
    if hits.is_empty():
        return pl.DataFrame(schema=CONTEXT_SCHEMA)
    return contexts_per_query(hits).cast(CONTEXT_SCHEMA)


def split_safe_reused(reused: pl.DataFrame, sources: pl.DataFrame, rule: SplitRule) -> pl.DataFrame:
    """Reusable contexts (candidate_id, context_pmids, ...) all of the candidate's split; a
    candidate with any other is retrieved again. `sources`: candidate_id, source_pmid."""
    if reused.is_empty():
        return reused
    keyed = reused.join(sources.select("candidate_id", "source_pmid"), on="candidate_id")
    foreign = rule.foreign_contexts(keyed)["row"].unique()
    return (
        keyed.with_row_index("_row")
        .filter(~pl.col("_row").is_in(foreign.implode()))
        .drop("_row", "source_pmid")
    )
