"""A category whose sources all disappear: every asset down the chain empties its partition and
says how many rows it deleted (evaluated_qa used to report 0)."""

from __future__ import annotations

from tests.harness import materialization_metadata, offline_sample_pipeline

CATEGORY = "K"


def test_every_asset_reports_the_rows_it_deleted_when_its_sources_go(tmp_path):
    pipeline = offline_sample_pipeline(tmp_path / "emptied")
    before = {
        table: pipeline.scalar(f"SELECT count(*) FROM {table} WHERE category = ?", [CATEGORY])
        for table in ("raw_abstracts", "candidate_qa", "evaluated_qa", "preference_pairs")
    }
    assert min(before["raw_abstracts"], before["candidate_qa"], before["evaluated_qa"]) > 0
    # The sources leave PubMed (as a DeleteCitation would take them).
    pipeline.execute(
        "DELETE FROM citations WHERE pmid IN (SELECT pmid FROM raw_abstracts WHERE category = ?)",
        [CATEGORY],
    )

    raw = materialization_metadata(
        pipeline.materialize(["raw_abstracts"], CATEGORY), "raw_abstracts"
    )
    assert (raw["rows_deleted"], raw["dagster/row_count"]) == (before["raw_abstracts"], 0)
    candidates = materialization_metadata(
        pipeline.materialize(["candidate_qa"], CATEGORY), "candidate_qa"
    )
    assert (candidates["rows_deleted"], candidates["dagster/row_count"]) == (
        before["candidate_qa"],
        0,
    )
    evaluated = materialization_metadata(
        pipeline.materialize(["evaluated_qa"], CATEGORY), "evaluated_qa"
    )
    assert evaluated["rows_changed"] == {
        "inserted": 0,
        "deleted": before["evaluated_qa"],
        "pairs_inserted": 0,
        "pairs_deleted": before["preference_pairs"],
    }
    assert pipeline.scalar("SELECT count(*) FROM evaluated_qa WHERE category = ?", [CATEGORY]) == 0
