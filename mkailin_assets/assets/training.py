"""training_set (per category) and training_export (the files people train on)."""

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.agents.prompts import PROMPTS
from mkailin_assets.assets.metadata import query_preview
from mkailin_assets.automation.conditions import downstream_condition
from mkailin_assets.checks.training_checks import TRAINING_SET_CHECKS, training_set_checks
from mkailin_assets.curation.decontamination import load_benchmarks
from mkailin_assets.curation.export import export_training_set
from mkailin_assets.db import apply_analysis_views, query_pl
from mkailin_assets.partitions import MESH_CATEGORIES, category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.method import MethodConfig
from mkailin_assets.stages.training import benchmark_pmids, build_training_category, write_training


@dg.asset(
    partitions_def=category_partitions,
    deps=[dg.AssetDep("evaluated_qa")],
    pool="duckdb",
    automation_condition=downstream_condition(),
    kinds={"duckdb"},
    group_name="training",
    owners=["team:mkailin"],
    tags={"stage": "training"},
    check_specs=TRAINING_SET_CHECKS,
    description=(
        "SFT, DPO, evaluator and pre-training records of the category: exact and near-duplicate "
        "questions removed across categories, benchmark PMIDs and 13-gram overlaps removed, "
        "split by source PMID. What was removed, and why, is in training_filtered."
    ),
)
def training_set(
    context: dg.AssetExecutionContext, duckdb_store: DuckDBStore, method: MethodConfig
):
    category = validate_category(context.partition_key)
    benchmarks = load_benchmarks(settings.decontamination_sources())
    with duckdb_store.connect() as con:
        training, filtered, report = build_training_category(
            con,
            category,
            benchmarks,
            ratios=method.ratios(),
            dedup_threshold=method.dedup_threshold,
            ngram=method.ngram,
        )
        changes = write_training(con, category, training, filtered)
        preview = query_preview(
            con,
            "SELECT kind, split, source_pmid, question FROM training_set WHERE category = ? ORDER BY kind, record_id",
            [category],
        )
        results = training_set_checks(
            con,
            category,
            method.ratios(),
            benchmark_pmids(benchmarks),
            method.min_records_per_category,
        )
    yield dg.MaterializeResult(
        metadata={
            "category": f"{category} — {MESH_CATEGORIES[category]}",
            "dagster/row_count": training.height,
            "built": dg.MetadataValue.json(report.built),
            "kept": dg.MetadataValue.json(report.kept),
            "removed_by_filter": dg.MetadataValue.json(report.removed),
            "removed_per_benchmark": dg.MetadataValue.json(report.removed_per_benchmark),
            "sft_splits": dg.MetadataValue.json(report.splits),
            "benchmarks": ", ".join(b.name for b in benchmarks),
            "rows_changed": dg.MetadataValue.json(changes),
            "preview": preview,
        }
    )
    yield from results


@dg.asset(
    deps=[dg.AssetDep("training_set", partition_mapping=dg.AllPartitionMapping())],
    pool="duckdb",
    kinds={"parquet", "json"},
    group_name="training",
    owners=["team:mkailin"],
    tags={"stage": "training"},
    description=(
        "Parquet + JSONL exports of every category (SFT chat messages, DPO prompt/chosen/rejected, "
        "evaluator pairs, pre-training text) with a dataset card, under MKAILIN_EXPORT_DIR."
    ),
)
def training_export(
    context: dg.AssetExecutionContext, duckdb_store: DuckDBStore, method: MethodConfig
):
    with duckdb_store.connect() as con:
        apply_analysis_views(con)
        # A record whose source sits in several categories is exported once, under its first
        # category, with every category it belongs to.
        training = query_pl(
            con,
            """SELECT * EXCLUDE (categories) REPLACE (
                   json_merge_patch(provenance, json_object('categories', categories)) AS provenance)
               FROM (SELECT *, list(category ORDER BY category) OVER (PARTITION BY kind, split_part(record_id, ':', 3)) AS categories,
                            row_number() OVER (PARTITION BY kind, split_part(record_id, ':', 3) ORDER BY category) AS n
                     FROM training_set)
               WHERE n = 1 ORDER BY record_id""",
        ).drop("n")
        filtered = query_pl(con, "SELECT * FROM training_filtered ORDER BY record_id")
        coverage = query_pl(con, "SELECT * FROM mesh_coverage")
        models = query_pl(
            con,
            "SELECT role, list(DISTINCT model ORDER BY model) AS models FROM llm_calls GROUP BY role ORDER BY role",
        )
    meta = {
        "name": "mkailin training set",
        "models": {r["role"]: ", ".join(r["models"]) for r in models.iter_rows(named=True)},
        "prompts": {name: template.version for name, template in PROMPTS.items()},
        "filters": {
            "dedup_threshold": method.dedup_threshold,
            "ngram": method.ngram,
            "decontamination": settings.decontamination_sources(),
            "split_ratios": method.ratios(),
        },
        "mesh_coverage": {
            f"depth {r['depth']}": f"{r['covered']} / {r['descriptors']} ({r['share_covered']:.1%})"
            for r in coverage.iter_rows(named=True)
        },
    }
    report = export_training_set(training, filtered, settings.export_dir(), meta)
    context.log.info(f"exported {training.height} records to {report.out_dir}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(report.out_dir)),
            "records": training.height,
            "counts": dg.MetadataValue.json(report.counts),
            "files": len(report.files),
            "by_category": dg.MetadataValue.json(
                dict(training.group_by("category").len().sort("category").iter_rows())
                if training.height
                else {}
            ),
            "filtered": filtered.height,
            "kinds": ", ".join(sorted(training["kind"].unique().to_list()))
            if training.height
            else "",
        }
    )
