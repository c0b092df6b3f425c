"""raw_abstracts: the citations of one MeSH category, with what the agents need."""

import dagster as dg

from mkailin_assets.assets.metadata import category_label, preview_table, skipped_metadata
from mkailin_assets.checks.ingest_checks import RAW_ABSTRACTS_CHECKS, raw_abstracts_checks
from mkailin_assets.partitions import category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.method import MethodConfig
from mkailin_assets.stages.abstracts import build_raw_abstracts, empty_category_reason


@dg.asset(
    partitions_def=category_partitions,
    deps=[
        dg.AssetDep("mesh_tree"),
        dg.AssetDep("mesh_vocabulary"),  # descriptors' tree numbers in every category
        dg.AssetDep("pubmed_files", partition_mapping=dg.AllPartitionMapping()),
    ],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="ingest",
    owners=["team:mkailin"],
    tags={"stage": "ingest"},
    check_specs=RAW_ABSTRACTS_CHECKS,
    description=(
        "Citations with a non-empty abstract whose major-topic MeSH headings (all headings when none "
        "is major) fall in the category; only rows whose content changed are rewritten."
    ),
)
def raw_abstracts(
    context: dg.AssetExecutionContext, duckdb_store: DuckDBStore, method: MethodConfig
):
    category = validate_category(context.partition_key)
    with duckdb_store.connect() as con:
        result = build_raw_abstracts(
            con, category, method.min_abstract_chars, method.max_abstract_chars
        )
        skipped = empty_category_reason(con, category)
        checks = raw_abstracts_checks(
            con, category, method.min_abstract_chars, method.max_abstract_chars
        )
    yield dg.MaterializeResult(
        metadata={
            "category": category_label(category),
            **skipped_metadata(skipped),
            "dagster/row_count": result.total,
            "rows_inserted": result.inserted,
            "rows_deleted": result.deleted,
            "quarantined": result.quarantined,
            "preview": preview_table(result.preview),
        }
    )
    yield from checks
