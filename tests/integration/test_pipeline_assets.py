"""The ingest assets through Dagster on the bundled sample: mesh_tree, pubmed_files (the three
release files in NLM's order) and raw_abstracts, their blocking checks, and incremental re-runs.

Expected figures come from data/sample/README.md and the sample XML, not from the code."""

from __future__ import annotations

import pytest

from tests.harness import (
    BASELINE_FILES,
    UPDATE_FILE,
    Pipeline,
    check_outcomes,
    materialization_metadata,
    materialized_assets,
    new_pipeline,
)

CATEGORIES = ["K", "Z"]
# data/sample/README.md, "Citations with a non-empty abstract per category".
ABSTRACTS_AFTER_BASELINE = {"K": 4, "Z": 4}
ABSTRACTS_AFTER_UPDATE = {"K": 4, "Z": 6}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> dict:
    """One DB: mesh_tree K and Z, the two baseline files, raw_abstracts, the update file,
    raw_abstracts again, and a third raw_abstracts run with nothing new."""
    pipeline = new_pipeline(tmp_path_factory.mktemp("ingest"))
    pipeline.load_mesh(CATEGORIES)
    file_runs = dict(zip(BASELINE_FILES, pipeline.load_files(BASELINE_FILES), strict=True))
    first = {c: pipeline.materialize(["raw_abstracts"], c) for c in CATEGORIES}
    counts_after_baseline = dict(
        pipeline.rows("SELECT category, count(*) FROM raw_abstracts GROUP BY category")
    )
    (file_runs[UPDATE_FILE],) = pipeline.load_files([UPDATE_FILE])
    after_update = {c: pipeline.materialize(["raw_abstracts"], c) for c in CATEGORIES}
    again = {c: pipeline.materialize(["raw_abstracts"], c) for c in CATEGORIES}
    return {
        "pipeline": pipeline,
        "file_runs": file_runs,
        "first": first,
        "after_update": after_update,
        "again": again,
        "counts_after_baseline": counts_after_baseline,
    }


def test_every_check_of_every_ingest_run_passed(ingested):
    runs = [
        *ingested["file_runs"].values(),
        *ingested["first"].values(),
        *ingested["after_update"].values(),
    ]
    for result in runs:
        outcomes = check_outcomes(result)
        assert outcomes and all(outcomes.values()), outcomes
    assert set(check_outcomes(ingested["first"]["Z"])) == {
        ("raw_abstracts", "abstracts_valid"),
        ("raw_abstracts", "abstracts_reachable_from_category"),
    }


def test_mesh_tree_partitions_hold_only_their_subtree(ingested):
    pipeline: Pipeline = ingested["pipeline"]
    rows = pipeline.rows(
        "SELECT category, count(*), count(*) FILTER (WHERE NOT starts_with(tree_number, category)) "
        "FROM mesh_tree GROUP BY category ORDER BY category"
    )
    assert [r[0] for r in rows] == CATEGORIES
    assert all(count > 0 and wrong == 0 for _, count, wrong in rows)
    # Depth 1 rows have no parent; every other parent is a tree number of the same partition.
    orphans = pipeline.scalar(
        "SELECT count(*) FROM mesh_tree t WHERE t.depth > 1 AND t.parent_tree_number NOT IN "
        "(SELECT tree_number FROM mesh_tree)"
    )
    assert orphans == 0


def test_release_files_load_in_order_with_revisions_and_deletions(ingested):
    pipeline: Pipeline = ingested["pipeline"]
    ledger = pipeline.rows(
        "SELECT file_name, kind, articles_read, duplicates_in_file, deletions, md5_verified "
        "FROM pubmed_files ORDER BY file_name"
    )
    # README: 37 records in file 1 (90000003 twice), 26 + 1 book chapter in file 2,
    # 7 citations then a DeleteCitation of 3 PMIDs in the update.
    assert ledger == [
        ("pubmed00n0001.xml.gz", "baseline", 37, 1, 0, True),
        ("pubmed00n0002.xml.gz", "baseline", 27, 0, 0, True),
        ("pubmed00n0003.xml.gz", "update", 7, 0, 3, True),
    ]
    update_meta = materialization_metadata(ingested["file_runs"][UPDATE_FILE], "pubmed_files")
    assert update_meta["deletions"] == 3
    assert set(update_meta["affected_categories"].split(",")) >= {"Z"}
    assert update_meta["parser"] == "lxml iterparse"  # a small file: no parser processes
    assert {"seconds_parse", "seconds_apply", "seconds_commit"} <= set(update_meta)

    pmids = {r[0] for r in pipeline.rows("SELECT pmid FROM citations")}
    assert 90000012 not in pmids and 90000046 not in pmids
    assert {90000065, 90000066, 90000067, 90000068} <= pmids
    assert pipeline.rows("SELECT pmid, was_known FROM deleted_citations ORDER BY pmid") == [
        (90000012, True),
        (90000046, True),
        (90000999, False),
    ]
    assert pipeline.rows("SELECT version, source_file FROM citations WHERE pmid = 90000010") == [
        (2, UPDATE_FILE)
    ]
    assert pipeline.scalar("SELECT count(*) FROM citations WHERE pmid = 90000003") == 1
    # The later of the two 90000003 records wins: it has one more heading.
    headings = pipeline.scalar("SELECT len(mesh_headings) FROM citations WHERE pmid = 90000003")
    assert headings == pipeline.scalar("SELECT count(*) FROM citation_mesh WHERE pmid = 90000003")
    # 36 + 27 + 4 new - 2 deleted that were known.
    assert len(pmids) == 65


def test_raw_abstracts_match_the_sample_category_counts(ingested):
    pipeline: Pipeline = ingested["pipeline"]
    assert ingested["counts_after_baseline"] == ABSTRACTS_AFTER_BASELINE
    after = dict(pipeline.rows("SELECT category, count(*) FROM raw_abstracts GROUP BY category"))
    assert after == ABSTRACTS_AFTER_UPDATE
    assert (
        pipeline.scalar("SELECT count(*) FROM raw_abstracts WHERE pmid IN (90000012, 90000046)")
        == 0
    )
    for letter in CATEGORIES:
        meta = materialization_metadata(ingested["first"][letter], "raw_abstracts")
        assert meta["rows_inserted"] == ABSTRACTS_AFTER_BASELINE[letter]
        assert meta["rows_deleted"] == 0
        assert meta["dagster/row_count"] == ABSTRACTS_AFTER_BASELINE[letter]
    # Z gains two abstracts from the update file and nothing in K changes.
    z = materialization_metadata(ingested["after_update"]["Z"], "raw_abstracts")
    assert z["dagster/row_count"] == 6 and z["rows_inserted"] >= 2
    k = materialization_metadata(ingested["after_update"]["K"], "raw_abstracts")
    assert (k["rows_inserted"], k["rows_deleted"]) == (0, 0)


def test_rematerializing_with_nothing_new_rewrites_nothing(ingested):
    for letter in CATEGORIES:
        meta = materialization_metadata(ingested["again"][letter], "raw_abstracts")
        assert (meta["rows_inserted"], meta["rows_deleted"]) == (0, 0), letter
        assert meta["dagster/row_count"] == ABSTRACTS_AFTER_UPDATE[letter]


def test_a_failed_blocking_check_stops_downstream_in_the_same_run(ingested, tmp_path):
    pipeline = ingested["pipeline"].copy_to(tmp_path / "blocked")
    pmid, good_hash = pipeline.rows(
        "SELECT pmid, content_hash FROM raw_abstracts WHERE category = 'Z' ORDER BY pmid LIMIT 1"
    )[0]
    # A corrupted citation row: raw_abstracts copies its hash, which the GX suite rejects.
    pipeline.execute("UPDATE citations SET content_hash = 'corrupt' WHERE pmid = ?", [pmid])

    blocked = pipeline.materialize(["raw_abstracts", "candidate_qa"], "Z", raise_on_error=False)
    assert check_outcomes(blocked)[("raw_abstracts", "abstracts_valid")] is False
    assert "raw_abstracts" in materialized_assets(blocked)
    assert "candidate_qa" not in materialized_assets(blocked)
    assert not blocked.is_node_success("candidate_qa")
    assert pipeline.scalar("SELECT count(*) FROM candidate_qa") == 0

    # The same run with the row repaired goes through: the check was what stopped it.
    pipeline.execute("UPDATE citations SET content_hash = ? WHERE pmid = ?", [good_hash, pmid])
    repaired = pipeline.materialize(["raw_abstracts", "candidate_qa"], "Z")
    assert all(check_outcomes(repaired).values())
    assert materialized_assets(repaired) == {"raw_abstracts", "candidate_qa"}
    assert pipeline.scalar("SELECT count(*) FROM candidate_qa WHERE category = 'Z'") > 0
