"""mesh_vocabulary (the whole MeSH file) and mesh_tree (one partition per top-level category).

Whatever needs the whole vocabulary (IC, LCA and similarity, descriptor validation) depends on
mesh_vocabulary, so a category's results never depend on which mesh_tree partitions exist."""

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.assets.metadata import category_label, preview_table
from mkailin_assets.checks.ingest_checks import MESH_TREE_CHECKS, mesh_tree_checks
from mkailin_assets.checks.vocabulary_checks import MESH_VOCABULARY_CHECKS, mesh_vocabulary_checks
from mkailin_assets.ingest.sources import fetch_mesh_source
from mkailin_assets.partitions import category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.stages.ingest import load_mesh_category, load_mesh_vocabulary


@dg.asset(
    pool="duckdb",
    kinds={"duckdb", "xml"},
    group_name="ingest",
    owners=["team:mkailin"],
    tags={"stage": "ingest"},
    check_specs=MESH_VOCABULARY_CHECKS,
    description=(
        "The whole MeSH vocabulary from MKAILIN_MESH_SOURCE: descriptors (mesh_descriptors) and "
        "every tree number (mesh_vocabulary). Loaded once per file (by sha256)."
    ),
)
def mesh_vocabulary(context: dg.AssetExecutionContext, duckdb_store: DuckDBStore):
    # Downloaded before the database opens: the writer lock is not held during a download.
    config = settings.get_settings()
    source_path = fetch_mesh_source(config.mesh_source, config.download_dir)
    with duckdb_store.connect() as con:
        result = load_mesh_vocabulary(con, source_path, config.mesh_year)
        checks = mesh_vocabulary_checks(con)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(result.tree_numbers_by_category.values()),
            "tree_numbers_by_category": result.tree_numbers_by_category,
            "mesh_source": str(source_path),
            "mesh_sha256": result.report.sha256,
            "mesh_year": result.report.mesh_year,
            "descriptors": result.report.descriptors,
            "descriptors_quarantined": result.report.quarantined,
            "reused": bool(result.report.skipped_as_already_loaded),
        }
    )
    yield from checks


@dg.asset(
    partitions_def=category_partitions,
    deps=[dg.AssetDep("mesh_vocabulary")],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="ingest",
    owners=["team:mkailin"],
    tags={"stage": "ingest"},
    check_specs=MESH_TREE_CHECKS,
    description=(
        "One top-level category's subtree of the MeSH vocabulary (tree number, descriptor, depth, "
        "parent): what category membership of abstracts reads."
    ),
)
def mesh_tree(context: dg.AssetExecutionContext, duckdb_store: DuckDBStore):
    category = validate_category(context.partition_key)
    with duckdb_store.connect() as con:
        result = load_mesh_category(con, category)
        checks = mesh_tree_checks(con, category)
    yield dg.MaterializeResult(
        metadata={
            "category": category_label(category),
            "dagster/row_count": result.rows,
            "tree_numbers_by_depth": result.depth_counts,
            "mesh_sha256": result.mesh_sha256 or "",
            "mesh_year": result.mesh_year,
            "preview": preview_table(result.preview),
        }
    )
    yield from checks
