"""mesh_tree: the MeSH descriptor hierarchy, one partition per top-level category."""

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.assets.metadata import category_label, preview_table
from mkailin_assets.checks.ingest_checks import MESH_TREE_CHECKS, mesh_tree_checks
from mkailin_assets.ingest.sources import fetch_mesh_source
from mkailin_assets.partitions import category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.stages.ingest import load_mesh_category


@dg.asset(
    partitions_def=category_partitions,
    pool="duckdb",
    kinds={"duckdb", "xml"},
    group_name="ingest",
    owners=["team:mkailin"],
    tags={"stage": "ingest"},
    check_specs=MESH_TREE_CHECKS,
    description=(
        "MeSH descriptors and their tree (tree number, descriptor, depth, parent) from "
        "MKAILIN_MESH_SOURCE; a partition holds one top-level category's subtree."
    ),
)
def mesh_tree(context: dg.AssetExecutionContext, duckdb_store: DuckDBStore):
    category = validate_category(context.partition_key)
    # Downloaded before the database opens: the writer lock is not held during a download.
    source_path = fetch_mesh_source(settings.mesh_source(), settings.download_dir())
    with duckdb_store.connect() as con:
        result = load_mesh_category(con, category, source_path, settings.mesh_year())
        checks = mesh_tree_checks(con, category)
    yield dg.MaterializeResult(
        metadata={
            "category": category_label(category),
            "dagster/row_count": result.rows,
            "tree_numbers_by_depth": result.depth_counts,
            "mesh_source": str(source_path),
            "mesh_year": result.report.mesh_year,
            "descriptors_loaded": result.report.descriptors,
            "descriptors_reused": bool(result.report.skipped_as_already_loaded),
            "preview": preview_table(result.preview),
        }
    )
    yield from checks
