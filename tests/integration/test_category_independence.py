"""A category's results do not depend on which other mesh_tree partitions happen to exist.

Category C of the sample is distilled with only its own mesh_tree partition, then again after the
other 15 are loaded, and once more in a fresh database where all 16 were loaded first: every
stored score, label and training record is identical. The case is not vacuous: C's sources and
contexts carry descriptors whose tree numbers lie outside C, whose ancestors and IC a partition-
reading score would lose."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mkailin_assets.partitions import CATEGORY_LETTERS
from tests.harness import SAMPLE_FILES, Pipeline, check_outcomes, new_pipeline

CATEGORY = "C"
STAGES = ["raw_abstracts", "candidate_qa", "evaluated_qa", "training_set"]
# What a category stores, without the time each row was written.
STORED = {
    "evaluated_qa": "SELECT * EXCLUDE (created_at) FROM evaluated_qa WHERE category = ? "
    "ORDER BY candidate_id",
    "preference_pairs": "SELECT * EXCLUDE (created_at) FROM preference_pairs WHERE category = ? "
    "ORDER BY ALL",
    "training_set": "SELECT * EXCLUDE (created_at) FROM training_set WHERE category = ? "
    "ORDER BY record_id",
    "training_filtered": "SELECT * EXCLUDE (created_at) FROM training_filtered "
    "WHERE category = ? ORDER BY ALL",
}


def distill(pipeline: Pipeline, trees: list[str]) -> None:
    pipeline.materialize(["mesh_vocabulary"])
    for letter in trees:
        pipeline.materialize(["mesh_tree"], letter)
    if not pipeline.scalar("SELECT count(*) FROM citations"):
        pipeline.load_files(SAMPLE_FILES)
    pipeline.materialize(STAGES, CATEGORY)


def stored(pipeline: Pipeline) -> dict[str, pl.DataFrame]:
    return {table: pipeline.frame(sql, [CATEGORY]) for table, sql in STORED.items()}


def assert_same(left: dict[str, pl.DataFrame], right: dict[str, pl.DataFrame]) -> None:
    for table in STORED:
        assert left[table].equals(right[table]), table


def test_one_category_stores_the_same_with_one_or_all_mesh_tree_partitions(tmp_path: Path):
    alone = new_pipeline(tmp_path / "alone")
    distill(alone, [CATEGORY])
    first = stored(alone)
    assert first["evaluated_qa"]["mesh_score"].drop_nulls().len() > 10
    assert first["preference_pairs"].height > 0 and first["training_set"].height > 0
    outside = alone.scalar(
        """SELECT count(DISTINCT cm.descriptor_ui) FROM citation_mesh cm
           JOIN mesh_vocabulary v USING (descriptor_ui)
           WHERE cm.pmid IN (SELECT source_pmid FROM evaluated_qa WHERE category = $c
                             UNION SELECT unnest(context_pmids) FROM evaluated_qa WHERE category = $c)
             AND cm.descriptor_ui NOT IN (SELECT descriptor_ui FROM mesh_tree)""",
        {"c": CATEGORY},
    )
    assert outside > 0  # descriptors only the whole vocabulary knows
    assert alone.scalar("SELECT count(DISTINCT category) FROM mesh_tree") == 1

    distill(alone, [letter for letter in CATEGORY_LETTERS if letter != CATEGORY])
    assert alone.scalar("SELECT count(DISTINCT category) FROM mesh_tree") > 10
    assert_same(first, stored(alone))

    every_tree_first = new_pipeline(tmp_path / "all")
    distill(every_tree_first, list(CATEGORY_LETTERS))
    assert_same(first, stored(every_tree_first))


def test_one_ic_snapshot_check_fails_on_a_partition_with_two_snapshots(tmp_path: Path):

    pipeline = new_pipeline(tmp_path / "two")
    distill(pipeline, [CATEGORY])
    pipeline.execute(
        "UPDATE evaluated_qa SET ic_snapshot = 'ic-elsewhere' WHERE category = ? AND "
        "candidate_id = (SELECT min(candidate_id) FROM evaluated_qa WHERE category = ?)",
        [CATEGORY, CATEGORY],
    )
    from mkailin_assets.checks.qa_checks import one_ic_snapshot
    from mkailin_assets.db import open_connection

    con = open_connection(pipeline.db_path, read_only=True)
    try:
        result = one_ic_snapshot(con, CATEGORY)
    finally:
        con.close()
    assert not result.passed and "ic-elsewhere" in result.metadata["snapshots"].value
    # A fresh evaluation rewrites every score with one snapshot, and the check passes again.
    rerun = pipeline.materialize(["evaluated_qa"], CATEGORY)
    assert check_outcomes(rerun)[("evaluated_qa", "one_ic_snapshot")]
