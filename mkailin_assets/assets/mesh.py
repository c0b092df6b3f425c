"""mesh_vocabulary (the whole MeSH file) and mesh_tree (one partition per top-level category).

Whatever needs the whole vocabulary (IC, LCA and similarity, descriptor validation) depends on
mesh_vocabulary, so a category's results never depend on which mesh_tree partitions exist."""

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.assets.metadata import query_preview
from mkailin_assets.checks.ingest_checks import MESH_TREE_CHECKS, mesh_tree_checks
from mkailin_assets.checks.vocabulary_checks import MESH_VOCABULARY_CHECKS, mesh_vocabulary_checks
from mkailin_assets.ingest.mesh_xml import (
    load_mesh_descriptors,
    vocabulary_source,
    write_mesh_tree_partition,
)
from mkailin_assets.ingest.sources import fetch_mesh_source
from mkailin_assets.partitions import MESH_CATEGORIES, category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore


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
    source_path = fetch_mesh_source(settings.mesh_source(), settings.download_dir())
    with duckdb_store.connect() as con:
        report = load_mesh_descriptors(con, source_path, expected_year=settings.mesh_year())
        categories = dict(
            con.execute(
                "SELECT category, count(*) FROM mesh_vocabulary GROUP BY category ORDER BY category"
            ).fetchall()
        )
        results = mesh_vocabulary_checks(con)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(categories.values()),
            "tree_numbers_by_category": {str(k): int(v) for k, v in categories.items()},
            "mesh_source": str(source_path),
            "mesh_sha256": report.sha256,
            "mesh_year": report.mesh_year,
            "descriptors": report.descriptors,
            "descriptors_quarantined": report.quarantined,
            "reused": bool(report.skipped_as_already_loaded),
        }
    )
    yield from results


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
        rows = write_mesh_tree_partition(con, category)
        sha256, mesh_year = vocabulary_source(con) or (None, None)
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
            "mesh_sha256": sha256 or "",
            "mesh_year": mesh_year,
            "preview": preview,
        }
    )
    yield from results
