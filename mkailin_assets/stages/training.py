"""training_set: records per category, deduplicated across categories, decontaminated, split."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import polars as pl

from mkailin_assets.curation.decontamination import (
    Benchmark,
    contamination_filters,
    find_contamination,
    load_benchmarks,
    removed_per_benchmark,
)
from mkailin_assets.curation.dedup import exact_duplicates, near_duplicates
from mkailin_assets.curation.records import (
    build_dpo_records,
    build_evaluator_records,
    build_pretrain_records,
    build_sft_records,
    citations_lookup,
    mesh_lookup,
)
from mkailin_assets.curation.splits import assign_splits
from mkailin_assets.db import (
    TEXT_SCHEMA,
    citation_rows,
    insert_frame,
    query_pl,
    sync_partition,
    transaction,
)
from mkailin_assets.evaluation.hygiene import pmids_in
from mkailin_assets.stages.refreshes import record_refresh
from mkailin_assets.stages.tables import StageResult, delete_partition, fetch_preview
from mkailin_assets.stages.twins import with_twins

TRAINING_COLUMNS = [
    "category",
    "record_id",
    "kind",
    "split",
    "source_pmid",
    "context_pmids",
    "question",
    "record",
    "provenance",
    "created_at",
]
FILTERED_SCHEMA = {
    "category": pl.String,
    "record_id": pl.String,
    "kind": pl.String,
    "filter": pl.String,
    "reason": pl.String,
    "twin_id": pl.String,
    "created_at": pl.Datetime("us"),
}


@dataclass
class TrainingReport:
    built: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    removed_per_benchmark: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingResult(StageResult[TrainingReport]):
    """The partition written, and the benchmarks it was decontaminated against (for the checks)."""

    benchmark_names: list[str]
    benchmark_pmids: set[int]


PREVIEW_SQL = """
SELECT kind, split, source_pmid, question FROM training_set
WHERE category = ? ORDER BY kind, record_id
"""


# A category's training set holds every record whose source belongs to it, so the same candidate
# (candidate ids do not depend on the category) may sit in several categories: that is
# membership, not duplication, and the export writes it once. A category deduplicates its own
# candidates only, so its records never depend on which other categories happen to exist: a
# candidate whose question equals (exactly, or nearly) the question of a candidate with a smaller
# id is removed, naming its twin. Twins in different categories are removed by the export, which
# reads every category (cross_category_duplicates).
CANDIDATE_QUESTIONS_SQL = """
SELECT DISTINCT candidate_id AS record_id, question AS text
FROM evaluated_qa
WHERE category = ? AND is_preferred AND answer IS NOT NULL AND answer_flag IS NULL
"""


def duplicate_candidates(
    con: duckdb.DuckDBPyConnection, category: str, threshold: float
) -> pl.DataFrame:
    """candidate_id, twin_id, filter for every candidate of the category that another duplicates."""
    return duplicate_questions(query_pl(con, CANDIDATE_QUESTIONS_SQL, [category]), threshold)


def duplicate_questions(questions: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """candidate_id, twin_id, filter of the (record_id = candidate id, text) rows to remove."""
    empty = pl.DataFrame(
        schema={"candidate_id": pl.String, "twin_id": pl.String, "filter": pl.String}
    )
    if questions.is_empty():
        return empty
    exact = exact_duplicates(questions).with_columns(pl.lit("exact_dup").alias("filter"))
    survivors = questions.join(exact.select("record_id"), on="record_id", how="anti")
    near = near_duplicates(survivors, threshold=threshold).select(
        "record_id", "twin_id", pl.lit("near_dup").alias("filter")
    )
    return pl.concat([exact, near], how="vertical_relaxed").rename({"record_id": "candidate_id"})


def record_candidate(records: pl.DataFrame) -> pl.Expr:
    """The candidate a record stands on: SFT/pretrain its own, DPO/evaluator the chosen one."""
    return pl.col("record_id").str.split(":").list.get(2).str.split(">").list.first()


def _category_inputs(
    con: duckdb.DuckDBPyConnection, category: str
) -> tuple[pl.DataFrame, pl.DataFrame, dict, dict]:
    evaluated = query_pl(con, "SELECT * FROM evaluated_qa WHERE category = ?", [category])
    pairs = query_pl(con, "SELECT * FROM preference_pairs WHERE category = ?", [category])
    # By PMID: a join against citations would read the whole corpus for a fixed sample.
    record_pmids = pl.concat(
        [evaluated["source_pmid"], evaluated["context_pmids"].explode().drop_nulls()]
    )
    citations = citations_lookup(citation_rows(con, record_pmids, TEXT_SCHEMA))
    # Only the PMIDs the records carry: the category's whole membership grows with the corpus.
    mesh = mesh_lookup(
        query_pl(
            con,
            """SELECT pmid, descriptor_uis, tree_numbers FROM raw_abstracts
               WHERE category = $c AND pmid IN (
                   SELECT source_pmid FROM evaluated_qa WHERE category = $c
                   UNION SELECT unnest(context_pmids) FROM evaluated_qa WHERE category = $c)""",
            {"c": category},
        )
    )
    return evaluated, pairs, citations, mesh


def build_records(con: duckdb.DuckDBPyConnection, category: str) -> pl.DataFrame:
    evaluated, pairs, citations, mesh = _category_inputs(con, category)
    if evaluated.is_empty():
        return pl.DataFrame()
    built = [
        build_sft_records(evaluated, citations, mesh),
        build_dpo_records(pairs, evaluated, citations, mesh),
        build_evaluator_records(pairs, evaluated, citations, mesh),
        build_pretrain_records(evaluated, citations, mesh),
    ]
    frames = [frame for frame in built if frame.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def contamination_texts(records: pl.DataFrame) -> pl.DataFrame:
    """What decontamination reads of a record: its whole training text (record JSON), and every
    PMID it carries (contexts, a DPO pair's rejected contexts, PMIDs cited in its texts)."""
    carried = [
        sorted(set(contexts or []) | {pmid for _, pmid in pmids_in(json.loads(record or "null"))})
        for contexts, record in zip(
            records["context_pmids"].to_list(), records["record"].to_list(), strict=True
        )
    ]
    return records.select(
        "record_id",
        "source_pmid",
        pl.Series("context_pmids", carried, dtype=pl.List(pl.Int64)),
        pl.col("record").alias("texts"),
    )


def build_training_category(
    con: duckdb.DuckDBPyConnection,
    category: str,
    benchmarks: list[Benchmark],
    *,
    ratios: dict[str, float],
    dedup_threshold: float = 0.8,
    ngram: int = 13,
) -> tuple[pl.DataFrame, pl.DataFrame, TrainingReport]:
    report = TrainingReport()
    now = datetime.now()
    records = build_records(con, category)
    if records.is_empty():
        return pl.DataFrame(), pl.DataFrame(schema=FILTERED_SCHEMA), report
    report.built = dict(records.group_by("kind").len().iter_rows())

    duplicates = duplicate_candidates(con, category, dedup_threshold)
    dup_rows = (
        records.with_columns(record_candidate(records).alias("candidate_id"))
        .join(duplicates, on="candidate_id", how="inner")
        .select(
            "record_id",
            "kind",
            "filter",
            pl.format("question duplicates candidate {}", pl.col("twin_id")).alias("reason"),
            "twin_id",
        )
    )
    records = records.join(dup_rows.select("record_id"), on="record_id", how="anti")

    contamination = (
        find_contamination(contamination_texts(records), benchmarks, ngram=ngram)
        if benchmarks
        else None
    )
    contaminated = pl.DataFrame(
        schema={
            "record_id": pl.String,
            "kind": pl.String,
            "filter": pl.String,
            "reason": pl.String,
            "twin_id": pl.String,
        }
    )
    if contamination is not None and contamination.height:
        report.removed_per_benchmark = removed_per_benchmark(contamination)
        # One row per record (its first benchmark), giving every reason that benchmark found:
        # a record whose own PMID is listed says "source_pmid", not only "context_pmid".
        first = (
            contamination_filters(contamination).group_by("record_id", maintain_order=True).first()
        )
        contaminated = first.join(records.select("record_id", "kind"), on="record_id").select(
            "record_id", "kind", "filter", "reason", "twin_id"
        )
        records = records.join(contaminated.select("record_id"), on="record_id", how="anti")

    filtered = (
        pl.concat([dup_rows, contaminated], how="vertical_relaxed")
        .with_columns(pl.lit(category).alias("category"), pl.lit(now).alias("created_at"))
        .select(list(FILTERED_SCHEMA))
        .cast(FILTERED_SCHEMA)
    )
    report.removed = dict(filtered.group_by("filter").len().iter_rows()) if filtered.height else {}

    training = (
        assign_splits(records, ratios)
        .with_columns(pl.lit(now).alias("created_at"))
        .select(TRAINING_COLUMNS)
    )
    report.kept = dict(training.group_by("kind").len().iter_rows())
    report.splits = dict(
        training.filter(pl.col("kind") == "sft").group_by("split").len().iter_rows()
    )
    return training, filtered, report


def cross_category_duplicates(training: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Records (category, record_id, kind, filter, reason, twin_id) the export removes: those
    standing on a candidate whose SFT question duplicates a candidate of another category.

    `training` holds each (kind, candidate) once (the export's selection); every category is
    already free of duplicates within itself."""
    columns = ["category", "record_id", "kind", "filter", "reason", "twin_id"]
    if training.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in columns})
    with_candidate = training.with_columns(record_candidate(training).alias("candidate_id"))
    sft = with_candidate.filter((pl.col("kind") == "sft") & pl.col("question").is_not_null())
    questions = sft.select(
        pl.col("candidate_id").alias("record_id"), pl.col("question").alias("text")
    )
    duplicates = duplicate_questions(questions.unique("record_id"), threshold)
    twin_category = sft.select(
        pl.col("candidate_id").alias("twin_id"), pl.col("category").alias("twin_category")
    ).unique("twin_id")
    return (
        with_candidate.join(duplicates, on="candidate_id", how="inner")
        .join(twin_category, on="twin_id", how="left")
        .with_columns(
            pl.format(
                "question duplicates candidate {} (category {}); removed at export",
                pl.col("twin_id"),
                pl.col("twin_category"),
            ).alias("reason")
        )
        .select(columns)
        .sort("record_id")
    )


def write_training(
    con: duckdb.DuckDBPyConnection, category: str, training: pl.DataFrame, filtered: pl.DataFrame
) -> dict[str, int]:
    """training_set and training_filtered change together."""
    with transaction(con):
        record_refresh(con, category, "training_set")
        delete_partition(con, "training_filtered", category)
        insert_frame(con, "training_filtered", filtered)
        if training.is_empty():
            return {"inserted": 0, "deleted": delete_partition(con, "training_set", category)}
        return sync_partition(
            con, "training_set", category, training, key=("record_id",), own_transaction=False
        )


def benchmark_pmids(benchmarks: list[Benchmark]) -> set[int]:
    return set().union(*(b.pmids for b in benchmarks)) if benchmarks else set()


def curate_training(
    con: duckdb.DuckDBPyConnection,
    category: str,
    benchmark_sources: list[str],
    *,
    ratios: dict[str, float],
    dedup_threshold: float,
    ngram: int,
) -> TrainingResult:
    """Build, filter and split the category's records against the listed benchmarks; write them."""
    benchmarks = with_twins(con, load_benchmarks(benchmark_sources))
    training, filtered, report = build_training_category(
        con, category, benchmarks, ratios=ratios, dedup_threshold=dedup_threshold, ngram=ngram
    )
    changes = write_training(con, category, training, filtered)
    return TrainingResult(
        rows=training.height,
        report=report,
        changes=changes,
        benchmark_names=[b.name for b in benchmarks],
        benchmark_pmids=benchmark_pmids(benchmarks),
        preview=fetch_preview(con, PREVIEW_SQL, [category]),
    )
