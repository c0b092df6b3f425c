"""Jobs: one per stage, and the whole per-category pipeline."""

from __future__ import annotations

import dagster as dg

from mkailin_assets.partitions import category_partitions


def _category_job(
    name: str, assets: list[str], description: str
) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*assets),
        partitions_def=category_partitions,
        description=description,
    )


mesh_tree_job = _category_job(
    "mesh_tree_job", ["mesh_tree"], "Load the MeSH tree for the selected categories."
)
mesh_vocabulary_job = dg.define_asset_job(
    "mesh_vocabulary_job",
    selection=dg.AssetSelection.assets("mesh_vocabulary"),
    description="Load the whole MeSH vocabulary (MKAILIN_MESH_SOURCE); then mesh_tree_job.",
)
pubmed_file_job = dg.define_asset_job(
    "pubmed_file_job",
    selection=dg.AssetSelection.assets("pubmed_files"),
    description="Load one PubMed release file (a pubmed_files partition).",
)
# mesh_tree is a cheap slice of mesh_vocabulary; refreshing it first in every category run
# means a category is never read through a missing or older tree (a first start has none).
raw_abstracts_job = _category_job(
    "raw_abstracts_job",
    ["mesh_tree", "raw_abstracts"],
    "Refresh the category's MeSH tree and its abstracts from citations.",
)
candidate_qa_job = _category_job(
    "candidate_qa_job", ["candidate_qa"], "Question agents and retrieval for the category."
)
evaluated_qa_job = _category_job(
    "evaluated_qa_job",
    ["evaluated_qa"],
    "MeSH scores, preferences, judge and answers for the category.",
)
training_set_job = _category_job(
    "training_set_job", ["training_set"], "Dedup, decontaminate and split the category's records."
)
category_pipeline_job = _category_job(
    "category_pipeline_job",
    ["mesh_tree", "raw_abstracts", "candidate_qa", "evaluated_qa", "training_set"],
    "The whole pipeline for one category: MeSH tree → abstracts → candidates → evaluation → "
    "training set (training_export follows by its automation condition). "
    "Blocking checks stop later stages when an earlier one fails.",
)
training_export_job = dg.define_asset_job(
    "training_export_job",
    selection=dg.AssetSelection.assets("training_export"),
    description="Write the Parquet/JSONL exports and the dataset card.",
)

JOBS = [
    mesh_vocabulary_job,
    mesh_tree_job,
    pubmed_file_job,
    raw_abstracts_job,
    candidate_qa_job,
    evaluated_qa_job,
    training_set_job,
    category_pipeline_job,
    training_export_job,
]
