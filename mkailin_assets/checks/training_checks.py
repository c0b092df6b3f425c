"""Blocking data-quality checks for training_set, one function each.

Columns of a frame are checked with GX suites; what SQL or Polars already decides (a PMID in
two splits, duplicated questions, benchmark PMIDs, split shares, a minimum) is a plain count.
"""

from __future__ import annotations

import json
import math

import dagster as dg
import duckdb
import polars as pl

from mkailin_assets.checks.gx_runner import run_query_check
from mkailin_assets.checks.verdicts import count_check, no_violations, verdict
from mkailin_assets.curation.splits import SplitRule
from mkailin_assets.curation.text import normalize_series
from mkailin_assets.db import query_pl
from mkailin_assets.evaluation.hygiene import pmids_in

RECORD_KINDS = ["sft", "dpo", "evaluator", "pretrain"]

TRAINING_SET_CHECKS = [
    dg.AssetCheckSpec(
        "no_pmid_in_two_splits",
        asset="training_set",
        blocking=True,
        description="Across every category, a source PMID sits in exactly one split",
    ),
    dg.AssetCheckSpec(
        "no_duplicates_left",
        asset="training_set",
        blocking=True,
        description="No two SFT candidates of the category share a normalised question (the "
        "export removes twins across categories)",
    ),
    dg.AssetCheckSpec(
        "no_benchmark_pmids",
        asset="training_set",
        blocking=True,
        description="No record's source or context PMID is a benchmark PMID",
    ),
    dg.AssetCheckSpec(
        "no_context_from_another_split",
        asset="training_set",
        blocking=True,
        description="No record's contexts (its context PMIDs, a DPO pair's chosen and rejected "
        "contexts) include a citation of another split: a validation or test source never "
        "reaches a train record, nor the reverse",
    ),
    dg.AssetCheckSpec(
        "required_fields_present",
        asset="training_set",
        blocking=True,
        description="Record, provenance, split and question are present and well formed",
    ),
    dg.AssetCheckSpec(
        "split_ratios_within_tolerance",
        asset="training_set",
        blocking=True,
        description="Observed split shares lie within a binomial tolerance of the ratios",
    ),
    dg.AssetCheckSpec(
        "minimum_records",
        asset="training_set",
        blocking=True,
        description="At least the configured number of SFT records in the category",
    ),
]


def split_tolerance(ratio: float, n: int) -> float:
    """Three binomial standard deviations plus one record: small categories are not failed by chance."""
    if n == 0:
        return 1.0
    return 3 * math.sqrt(ratio * (1 - ratio) / n) + 1 / n


def no_pmid_in_two_splits(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """Across every category: a source PMID in two splits would leak between train and test."""
    return count_check(
        con,
        "no_pmid_in_two_splits",
        """SELECT count(*) FROM (SELECT source_pmid FROM training_set
                                 GROUP BY source_pmid HAVING count(DISTINCT split) > 1)""",
        [],
    )


def no_duplicates_left(con: duckdb.DuckDBPyConnection, category: str) -> dg.AssetCheckResult:
    """Two candidates of one category may not share a question; across categories the export
    removes twins, so a category's check never depends on another category."""
    questions = query_pl(
        con,
        "SELECT record_id, question FROM training_set WHERE kind = 'sft' AND category = ?",
        [category],
    )
    shared = (
        questions.with_columns(
            normalize_series(questions["question"]).alias("normalised"),
            pl.col("record_id").str.split(":").list.get(2).alias("candidate_id"),
        )
        .group_by("normalised")
        .agg(pl.col("candidate_id").n_unique().alias("candidates"))
        .filter(pl.col("candidates") > 1)
    )
    return no_violations("no_duplicates_left", shared.height)


def no_benchmark_pmids(
    con: duckdb.DuckDBPyConnection, category: str, benchmark_pmids: set[int]
) -> dg.AssetCheckResult:
    records = query_pl(
        con,
        "SELECT record_id, source_pmid, context_pmids FROM training_set WHERE category = ?",
        [category],
    )
    listed = pl.Series(sorted(benchmark_pmids), dtype=pl.Int64)
    contaminated = records.filter(
        pl.col("source_pmid").is_in(listed)
        | pl.col("context_pmids").list.eval(pl.element().is_in(listed)).list.any()
    )
    return no_violations(
        "no_benchmark_pmids",
        contaminated.height,
        {
            "benchmark_pmids": len(benchmark_pmids),
            "examples": dg.MetadataValue.json(contaminated["record_id"].head(5).to_list()),
        },
    )


def record_contexts(records: pl.DataFrame) -> pl.DataFrame:
    """record_id, split, source_pmid, context_pmids: the context column and every PMID the record
    JSON holds under a key naming contexts (chosen/rejected contexts, contexts[].pmid)."""
    contexts = [
        sorted(
            set(column or [])
            | {p for where, p in pmids_in(json.loads(record or "null")) if "context" in where}
        )
        for column, record in zip(
            records["context_pmids"].to_list(), records["record"].to_list(), strict=True
        )
    ]
    return records.select("record_id", "split", "source_pmid").with_columns(
        pl.Series("context_pmids", contexts, dtype=pl.List(pl.Int64))
    )


def no_context_from_another_split(
    con: duckdb.DuckDBPyConnection, category: str, ratios: dict[str, float]
) -> dg.AssetCheckResult:
    records = record_contexts(
        query_pl(
            con,
            "SELECT record_id, split, source_pmid, context_pmids, record::VARCHAR AS record"
            " FROM training_set WHERE category = ?",
            [category],
        )
    )
    foreign = SplitRule(ratios).foreign_contexts(records)
    hit = records.with_row_index("row").join(foreign.select("row", "pmid", "pmid_split"), on="row")
    return no_violations(
        "no_context_from_another_split",
        hit["record_id"].n_unique(),
        {
            "records": records.height,
            "examples": dg.MetadataValue.json(
                hit.select("record_id", "split", "pmid", "pmid_split").head(5).to_dicts()
            ),
        },
    )


def required_fields_present(
    con: duckdb.DuckDBPyConnection, category: str, splits: list[str]
) -> dg.AssetCheckResult:
    return run_query_check(
        con,
        "required_fields_present",
        """SELECT record_id, kind, split, record IS NOT NULL AND provenance IS NOT NULL AS payload_present,
                  json_extract(provenance, '$.source_pmid') IS NOT NULL AS provenance_has_pmid,
                  kind NOT IN ('sft', 'dpo') OR length(coalesce(question, '')) > 0 AS question_present
           FROM training_set WHERE category = ?""",
        [category],
        [
            ("ExpectColumnValuesToBeInSet", {"column": "payload_present", "value_set": [True]}),
            ("ExpectColumnValuesToBeInSet", {"column": "provenance_has_pmid", "value_set": [True]}),
            ("ExpectColumnValuesToBeInSet", {"column": "question_present", "value_set": [True]}),
            ("ExpectColumnValuesToBeInSet", {"column": "split", "value_set": splits}),
            ("ExpectColumnValuesToBeInSet", {"column": "kind", "value_set": RECORD_KINDS}),
        ],
    )


def sft_split_counts(con: duckdb.DuckDBPyConnection, category: str) -> dict[str, int]:
    rows = con.execute(
        """SELECT split, count(*) FROM training_set WHERE category = ? AND kind = 'sft'
           GROUP BY split""",
        [category],
    ).fetchall()
    return {split: int(n) for split, n in rows}


def split_ratios_within_tolerance(
    ratios: dict[str, float], observed: dict[str, int]
) -> dg.AssetCheckResult:
    """Each split's observed share of the category's SFT records against its ratio."""
    total = sum(observed.values())
    outside = [
        split
        for split, ratio in ratios.items()
        if abs((observed.get(split, 0) / total if total else 0.0) - ratio)
        > split_tolerance(ratio, total)
    ]
    return no_violations(
        "split_ratios_within_tolerance",
        len(outside),
        {
            "sft_records": total,
            "observed": dg.MetadataValue.json(observed),
            "outside_tolerance": ", ".join(outside),
        },
    )


def minimum_records(
    sft_records: int, min_records: int, skipped: str | None = None
) -> dg.AssetCheckResult:
    """A category with no abstracts at all (V) is an explained skip, not a shortfall."""
    metadata: dict[str, object] = {"sft_records": sft_records, "minimum": min_records}
    if skipped:
        return verdict("minimum_records", True, {**metadata, "skipped": skipped})
    return verdict("minimum_records", sft_records >= min_records, metadata)


def training_set_checks(
    con: duckdb.DuckDBPyConnection,
    category: str,
    ratios: dict[str, float],
    benchmark_pmids: set[int],
    min_records: int,
    skipped: str | None = None,
) -> list[dg.AssetCheckResult]:
    observed = sft_split_counts(con, category)
    return [
        no_pmid_in_two_splits(con),
        no_duplicates_left(con, category),
        no_benchmark_pmids(con, category, benchmark_pmids),
        no_context_from_another_split(con, category, ratios),
        required_fields_present(con, category, list(ratios)),
        split_ratios_within_tolerance(ratios, observed),
        minimum_records(sum(observed.values()), min_records, skipped),
    ]
