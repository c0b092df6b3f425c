"""Checks of benchmark_eval (non-blocking: a figure is information, not a gate) and the blocking
benchmark-hygiene check over every PMID-bearing field of the training records."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
import duckdb
import polars as pl

from mkailin_assets.db import query_pl
from mkailin_assets.evaluation.hygiene import (
    benchmark_citation_pmids,
    benchmark_pmid_hits,
    twin_pmids,
)
from mkailin_assets.resources.duckdb_store import DuckDBStore

_KEY = ["benchmark", "setting", "split"]

BENCHMARK_CHECKS = [
    dg.AssetCheckSpec(
        "no_drop_beyond_interval",
        asset="benchmark_eval",
        blocking=False,
        description=(
            "No accuracy fell below its previous materialization by more than the 95% interval "
            "(the previous accuracy lies above this run's upper bound)"
        ),
    ),
    dg.AssetCheckSpec(
        "benchmark_complete",
        asset="benchmark_eval",
        blocking=False,
        description="Every item got an answer (no budget stop, no failed calls): figures not partial",
    ),
]


def drops_beyond_interval(current: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Settings whose previous accuracy lies above this run's 95% interval (complete runs only)."""
    if current.is_empty() or previous.is_empty() or bool(previous["partial"].any()):
        return pl.DataFrame(schema={**{k: pl.String for k in _KEY}, "accuracy": pl.Float64})
    joined = current.join(previous.select(*_KEY, pl.col("accuracy").alias("previous")), on=_KEY)
    return joined.filter(pl.col("previous") > pl.col("ci_high")).select(
        *_KEY, "accuracy", "ci_high", "previous"
    )


def benchmark_check_results(
    current: pl.DataFrame, previous: pl.DataFrame
) -> list[dg.AssetCheckResult]:
    drops = drops_beyond_interval(current, previous)
    partial = current.filter(pl.col("partial")) if current.height else current
    return [
        dg.AssetCheckResult(
            check_name="no_drop_beyond_interval",
            passed=drops.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "compared_with_previous": previous.height > 0,
                "drops": dg.MetadataValue.json(drops.to_dicts()),
            },
        ),
        dg.AssetCheckResult(
            check_name="benchmark_complete",
            passed=partial.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "partial_settings": dg.MetadataValue.json(
                    partial.select(*_KEY, "n", "n_expected").to_dicts() if partial.height else []
                )
            },
        ),
    ]


# ---- hygiene ---------------------------------------------------------------------------------


def hygiene_hits(
    con: duckdb.DuckDBPyConnection, benchmark_pmids: Iterable[int], category: str | None = None
) -> pl.DataFrame:
    """Benchmark PMIDs in any field of the training records of `category` (of every category
    when None: what is exported)."""
    rows = query_pl(
        con,
        "SELECT record_id, source_pmid, context_pmids, record::VARCHAR AS record,"
        " provenance::VARCHAR AS provenance FROM training_set"
        " WHERE $category IS NULL OR category = $category ORDER BY record_id",
        {"category": category},
    )
    return benchmark_pmid_hits(rows, benchmark_pmids)


@dg.asset_check(
    asset="training_set",
    name="no_benchmark_pmid_in_any_field",
    blocking=True,
    description=(
        "No benchmark citation (a PMID of the MKAILIN_DECONTAMINATION files) nor benchmark twin "
        "(`benchmark_twins`) in any PMID-bearing field of the category's records: source, contexts, chosen/rejected contexts, "
        "provenance, PMIDs cited in texts"
    ),
)
def no_benchmark_pmid_in_any_field(context, duckdb_store: DuckDBStore) -> dg.AssetCheckResult:
    # `context` is an AssetCheckExecutionContext (Dagster refuses the string annotation). A
    # category's run checks that category's records, so the cost follows the run's own work.
    listed = benchmark_citation_pmids()
    category = context.partition_key if context.has_partition_key else None
    with duckdb_store.connect(read_only=True) as con:
        twins = twin_pmids(con)
        hits = hygiene_hits(con, listed | twins, category)
    return dg.AssetCheckResult(
        passed=hits.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "category": category or "all",
            "benchmark_pmids": len(listed),
            "benchmark_twins": len(twins),
            "twin_pmids_hit": hits.filter(pl.col("pmid").is_in(sorted(twins)))["pmid"].n_unique(),
            "records_hit": hits["record_id"].n_unique(),
            "fields_hit": dg.MetadataValue.json(
                dict(hits.group_by("field").len().sort("field").iter_rows()) if hits.height else {}
            ),
            "first_hits": dg.MetadataValue.json(hits.head(10).to_dicts()),
        },
    )
