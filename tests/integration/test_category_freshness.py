"""The category_freshness view and the dataset card's freshness section, through the real stages
on the bundled sample: a category is up to date after its refresh, due after a release file that
changed it, up to date again once refreshed; a file that did not change it leaves it alone."""

from __future__ import annotations

import pytest

from mkailin_assets.curation.freshness import freshness_section
from mkailin_assets.db import apply_analysis_views, open_connection
from tests.harness import BASELINE_FILES, UPDATE_FILE, new_pipeline

pytestmark = pytest.mark.slow
STAGES = ["raw_abstracts", "candidate_qa", "evaluated_qa", "training_set"]
VIEW = "SELECT category, latest_file, covered_file, files_pending, state FROM category_freshness"


def view_rows(pipeline) -> list[tuple]:
    con = open_connection(pipeline.db_path)
    try:
        apply_analysis_views(con)
        return con.execute(VIEW).fetchall()
    finally:
        con.close()


def freshness(pipeline) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in view_rows(pipeline)}


def test_freshness_follows_the_release_files_and_the_refreshes(tmp_path):
    pipeline = new_pipeline(tmp_path)
    pipeline.load_mesh(["K", "Z"])
    pipeline.load_files(BASELINE_FILES)
    pipeline.materialize(["raw_abstracts"], "K")  # K read the files but never finished
    for stage in STAGES:
        pipeline.materialize([stage], "Z")
    baseline_end = BASELINE_FILES[-1]
    table = freshness(pipeline)
    assert table["Z"] == (baseline_end, baseline_end, 0, "up to date")
    assert table["K"][3] == "no refresh recorded"  # training_set never written
    assert len(table) == 16

    # The update file gives Z two more abstracts (data/sample/README.md): Z is due.
    pipeline.load_files([UPDATE_FILE])
    table = freshness(pipeline)
    assert table["Z"] == (UPDATE_FILE, baseline_end, 1, "due")
    card = freshness_section(
        [dict(zip(["category", "latest_file", "covered_file", "files_pending", "state"], r, strict=True))
         for r in view_rows(pipeline)]
    )  # fmt: skip
    assert f"| Z | {UPDATE_FILE} | {baseline_end} | 1 | due |" in card
    assert "refresh due when this export was written: Z" in card

    for stage in STAGES:
        pipeline.materialize([stage], "Z")
    assert freshness(pipeline)["Z"] == (UPDATE_FILE, UPDATE_FILE, 0, "up to date")
    assert "Every refreshed category covered" in freshness_section(
        [{"category": "Z", "state": "up to date", "latest_file": UPDATE_FILE}]
    )
    assert freshness_section([]) == "No category refresh recorded."
