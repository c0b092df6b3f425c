"""Blocking data-quality checks for training_set (GX suites)."""

from __future__ import annotations

import math

import dagster as dg
import duckdb
import polars as pl

from mkailin_assets.checks.gx_runner import run_check
from mkailin_assets.curation.text import normalize_series
from mkailin_assets.db import query_pl

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
        description="No two SFT candidates (any categories) share a normalised question",
    ),
    dg.AssetCheckSpec(
        "no_benchmark_pmids",
        asset="training_set",
        blocking=True,
        description="No record's source or context PMID is a benchmark PMID",
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


def training_set_checks(
    con: duckdb.DuckDBPyConnection,
    category: str,
    ratios: dict[str, float],
    benchmark_pmids: set[int],
    min_records: int,
) -> list[dg.AssetCheckResult]:
    splits_per_pmid = con.execute(
        "SELECT source_pmid, count(DISTINCT split) AS splits FROM training_set GROUP BY source_pmid"
    ).df()
    questions = query_pl(con, "SELECT record_id, question FROM training_set WHERE kind = 'sft'")
    # One candidate may sit in several categories (membership); two candidates may not share a question.
    questions = (
        questions.with_columns(
            normalize_series(questions["question"]).alias("normalised"),
            pl.col("record_id").str.split(":").list.get(2).alias("candidate_id"),
        )
        .group_by("normalised")
        .agg(pl.col("candidate_id").n_unique().alias("candidates"))
    )
    pmids = query_pl(
        con,
        """SELECT record_id, source_pmid, context_pmids FROM training_set WHERE category = ?""",
        [category],
    )
    listed = pl.Series(sorted(benchmark_pmids), dtype=pl.Int64)
    pmids = pmids.with_columns(
        (
            pl.col("source_pmid").is_in(listed)
            | pl.col("context_pmids").list.eval(pl.element().is_in(listed)).list.any()
        )
        .fill_null(False)
        .alias("benchmark_pmid")
    )
    fields = con.execute(
        """SELECT record_id, kind, split, record IS NOT NULL AND provenance IS NOT NULL AS payload_present,
                  json_extract(provenance, '$.source_pmid') IS NOT NULL AS provenance_has_pmid,
                  kind NOT IN ('sft', 'dpo') OR length(coalesce(question, '')) > 0 AS question_present
           FROM training_set WHERE category = ?""",
        [category],
    ).df()
    shares = query_pl(
        con,
        """SELECT split, count(*) AS n FROM training_set WHERE category = ? AND kind = 'sft' GROUP BY split""",
        [category],
    )
    total = int(shares["n"].sum()) if shares.height else 0
    observed = dict(zip(shares["split"].to_list(), shares["n"].to_list(), strict=True))
    share_rows = pl.DataFrame(
        {
            "split": list(ratios),
            "expected": [ratios[s] for s in ratios],
            "observed": [observed.get(s, 0) / total if total else 0.0 for s in ratios],
            "tolerance": [split_tolerance(ratios[s], total) for s in ratios],
        }
    ).with_columns(
        ((pl.col("observed") - pl.col("expected")).abs() <= pl.col("tolerance")).alias("within")
    )
    return [
        run_check(
            "no_pmid_in_two_splits",
            splits_per_pmid,
            [("ExpectColumnValuesToBeInSet", {"column": "splits", "value_set": [1]})],
        ),
        run_check(
            "no_duplicates_left",
            questions,
            [("ExpectColumnValuesToBeInSet", {"column": "candidates", "value_set": [1]})],
        ),
        run_check(
            "no_benchmark_pmids",
            pmids.select("record_id", "benchmark_pmid"),
            [("ExpectColumnValuesToBeInSet", {"column": "benchmark_pmid", "value_set": [False]})],
            {"benchmark_pmids": len(benchmark_pmids)},
        ),
        run_check(
            "required_fields_present",
            fields,
            [
                ("ExpectColumnValuesToBeInSet", {"column": "payload_present", "value_set": [True]}),
                (
                    "ExpectColumnValuesToBeInSet",
                    {"column": "provenance_has_pmid", "value_set": [True]},
                ),
                (
                    "ExpectColumnValuesToBeInSet",
                    {"column": "question_present", "value_set": [True]},
                ),
                ("ExpectColumnValuesToBeInSet", {"column": "split", "value_set": list(ratios)}),
                (
                    "ExpectColumnValuesToBeInSet",
                    {"column": "kind", "value_set": ["sft", "dpo", "evaluator", "pretrain"]},
                ),
            ],
        ),
        run_check(
            "split_ratios_within_tolerance",
            share_rows,
            [("ExpectColumnValuesToBeInSet", {"column": "within", "value_set": [True]})],
            {"sft_records": total, "observed": dg.MetadataValue.json(observed)},
        ),
        run_check(
            "minimum_records",
            pl.DataFrame({"sft_records": [total]}),
            [
                (
                    "ExpectColumnValuesToBeBetween",
                    {"column": "sft_records", "min_value": min_records},
                )
            ],
            {"minimum": min_records},
        ),
    ]
