"""Jobs: one per stage, and the whole per-category pipeline."""

from __future__ import annotations

import dagster as dg

from mkailin_assets.partitions import category_partitions

ingest_mesh_job = dg.define_asset_job(
    "mesh_tree_job",
    selection=dg.AssetSelection.assets("mesh_tree"),
    partitions_def=category_partitions,
    description="Load the MeSH tree for the selected categories.",
)
pubmed_file_job = dg.define_asset_job(
    "pubmed_file_job",
    selection=dg.AssetSelection.assets("pubmed_files"),
    description="Load one PubMed release file (a pubmed_files partition).",
)
raw_abstracts_job = dg.define_asset_job(
    "raw_abstracts_job",
    selection=dg.AssetSelection.assets("raw_abstracts"),
    partitions_def=category_partitions,
    description="Refresh the category's abstracts from citations.",
)

JOBS = [ingest_mesh_job, pubmed_file_job, raw_abstracts_job]
