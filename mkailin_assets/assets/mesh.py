"""mesh_tree: the MeSH descriptor hierarchy, one partition per top-level category."""

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.assets.metadata import query_preview
from mkailin_assets.checks.ingest_checks import MESH_TREE_CHECKS, mesh_tree_checks
from mkailin_assets.ingest.mesh_xml import load_mesh_descriptors, write_mesh_tree_partition
from mkailin_assets.ingest.sources import fetch_mesh_source
from mkailin_assets.partitions import MESH_CATEGORIES, category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore


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
    config = settings.get_settings()
    source_path = fetch_mesh_source(config.mesh_source, config.download_dir)
    with duckdb_store.connect() as con:
        report = load_mesh_descriptors(con, source_path, expected_year=config.mesh_year)
        rows = write_mesh_tree_partition(con, category)
        depth_counts = dict(
            con.execute(
                "SELECT depth, count(*) FROM mesh_tree WHERE category = ? GROUP BY depth ORDER BY depth",
                [category],
            ).fetchall()
        )
        preview = query_preview(
            con,
            "SELECT tree_number, descriptor_ui, descriptor_name, depth FROM mesh_tree "
            "WHERE category = ? ORDER BY tree_number",
            [category],
        )
        results = mesh_tree_checks(con, category)
    yield dg.MaterializeResult(
        metadata={
            "category": f"{category} — {MESH_CATEGORIES[category]}",
            "dagster/row_count": rows,
            "tree_numbers_by_depth": {str(k): int(v) for k, v in depth_counts.items()},
            "mesh_source": str(source_path),
            "mesh_year": report.mesh_year,
            "descriptors_loaded": report.descriptors,
            "descriptors_reused": bool(report.skipped_as_already_loaded),
            "preview": preview,
        }
    )
    yield from results
