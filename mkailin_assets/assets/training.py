"""training_set (per category) and training_export (the files people train on)."""

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.assets.metadata import category_label, preview_table
from mkailin_assets.automation.conditions import downstream_condition
from mkailin_assets.checks.training_checks import TRAINING_SET_CHECKS, training_set_checks
from mkailin_assets.partitions import category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.method import MethodConfig
from mkailin_assets.stages.export import read_export, record_export_removals, write_export
from mkailin_assets.stages.training import curate_training


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
        "questions removed within the category (the export removes twins across categories), benchmark PMIDs and 13-gram overlaps removed, "
        "split by source PMID. What was removed, and why, is in training_filtered."
    ),
)
def training_set(
    context: dg.AssetExecutionContext, duckdb_store: DuckDBStore, method: MethodConfig
):
    category = validate_category(context.partition_key)
    with duckdb_store.connect() as con:
        result = curate_training(
            con,
            category,
            settings.get_settings().decontamination,
            ratios=method.ratios(),
            dedup_threshold=method.dedup_threshold,
            ngram=method.ngram,
        )
        checks = training_set_checks(
            con,
            category,
            method.ratios(),
            result.benchmark_pmids,
            method.min_records_per_category,
        )
    report = result.report
    yield dg.MaterializeResult(
        metadata={
            "category": category_label(category),
            "dagster/row_count": result.rows,
            "built": dg.MetadataValue.json(report.built),
            "kept": dg.MetadataValue.json(report.kept),
            "removed_by_filter": dg.MetadataValue.json(report.removed),
            "removed_per_benchmark": dg.MetadataValue.json(report.removed_per_benchmark),
            "sft_splits": dg.MetadataValue.json(report.splits),
            "benchmarks": ", ".join(result.benchmark_names),
            "rows_changed": dg.MetadataValue.json(result.changes),
            "preview": preview_table(result.preview),
        }
    )
    yield from checks


@dg.asset(
    # What the card reads besides the records: MeSH coverage (the whole vocabulary) and the
    # latest benchmark figures of every model.
    deps=[
        dg.AssetDep("training_set", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("mesh_vocabulary"),
        dg.AssetDep("benchmark_eval", partition_mapping=dg.AllPartitionMapping()),
    ],
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
    filters = {
        "dedup_threshold": method.dedup_threshold,
        "ngram": method.ngram,
        "decontamination": settings.get_settings().decontamination,
        "split_ratios": method.ratios(),
    }
    with duckdb_store.connect() as con:
        export = read_export(con, filters, method.dedup_threshold)
        record_export_removals(con, export.removed_at_export)
    summary = write_export(export, settings.get_settings().export_dir)
    context.log.info(f"exported {summary.records} records to {summary.out_dir}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(summary.out_dir)),
            "records": summary.records,
            "counts": dg.MetadataValue.json(summary.counts),
            "files": summary.files,
            "by_category": dg.MetadataValue.json(summary.by_category),
            "filtered": summary.filtered,
            "kinds": ", ".join(summary.kinds),
        }
    )
