"""The ingest stages without Dagster: the sample's MeSH and release files into a fresh DuckDB file,
raw_abstracts built from them, and what each stage reports checked against the tables."""

from __future__ import annotations

import duckdb
import pytest

from mkailin_assets import settings
from mkailin_assets.ingest.mesh_xml import MeshVocabularyMissingError
from mkailin_assets.partitions import CATEGORY_LETTERS
from mkailin_assets.stages.abstracts import build_raw_abstracts
from mkailin_assets.stages.ingest import (
    ReleaseOrderError,
    ensure_in_order,
    fetch_release,
    load_mesh_category,
    load_mesh_vocabulary,
    load_release,
)

FIRST, SECOND, UPDATE = "pubmed00n0001.xml.gz", "pubmed00n0002.xml.gz", "pubmed00n0003.xml.gz"


@pytest.fixture
def con(schema_con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return schema_con


def _load_mesh(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    load_mesh_vocabulary(con, settings.SAMPLE_MESH_SOURCE, None)
    return {letter: load_mesh_category(con, letter).rows for letter in CATEGORY_LETTERS}


def test_the_vocabulary_loads_once_and_a_category_is_its_slice(con):
    with pytest.raises(MeshVocabularyMissingError, match="mesh_vocabulary"):
        load_mesh_category(con, "Z")  # no vocabulary yet: a clear error, nothing written
    vocabulary = load_mesh_vocabulary(con, settings.SAMPLE_MESH_SOURCE, None)
    assert vocabulary.report.descriptors > 0 and not vocabulary.report.skipped_as_already_loaded
    again = load_mesh_vocabulary(con, settings.SAMPLE_MESH_SOURCE, None)
    assert again.report.skipped_as_already_loaded
    assert again.tree_numbers_by_category == vocabulary.tree_numbers_by_category
    result = load_mesh_category(con, "Z")
    depths = dict(
        con.execute("SELECT depth::VARCHAR, count(*) FROM mesh_tree GROUP BY 1").fetchall()
    )
    assert result.rows == sum(depths.values()) > 0
    assert result.depth_counts == depths
    assert result.rows == vocabulary.tree_numbers_by_category["Z"]
    assert result.mesh_sha256 == vocabulary.report.sha256
    assert result.preview.headers == ["tree_number", "descriptor_ui", "descriptor_name", "depth"]
    assert 0 < len(result.preview.rows) <= 5
    assert load_mesh_category(con, "Z").rows == result.rows  # rewriting never duplicates


def test_an_unlisted_file_and_an_update_out_of_order_are_refused(con, tmp_path):
    with pytest.raises(FileNotFoundError, match="not listed"):
        fetch_release(str(settings.SAMPLE_PUBMED_SOURCE), "pubmed00n0999.xml.gz", tmp_path)
    update = fetch_release(str(settings.SAMPLE_PUBMED_SOURCE), UPDATE, tmp_path)
    assert update.ordered_names.index(UPDATE) == 2
    with pytest.raises(ReleaseOrderError, match="2 earlier release file"):
        load_release(con, update)
    assert con.execute("SELECT count(*) FROM pubmed_files").fetchall() == [(0,)]
    ensure_in_order({"a", "b"}, ["a", "b", "c"], "c")  # all earlier files loaded: no error


def _categories_by_hand(con: duckdb.DuckDBPyConnection, pmids: list[int]) -> set[str]:
    """The membership rule, in Python: major-topic headings, or all when none is major."""
    tree = {}
    for ui, category in con.execute("SELECT descriptor_ui, category FROM mesh_tree").fetchall():
        tree.setdefault(ui, set()).add(category)
    found: set[str] = set()
    for pmid in pmids:
        heads = con.execute(
            "SELECT descriptor_ui, major_topic FROM citation_mesh WHERE pmid = ?", [pmid]
        ).fetchall()
        chosen = [ui for ui, major in heads if major] or [ui for ui, _ in heads]
        for ui in chosen:
            found |= tree.get(ui, set())
    return found


def test_a_release_reports_the_categories_it_touched_and_the_totals(con, tmp_path):
    _load_mesh(con)
    result = load_release(con, fetch_release(str(settings.SAMPLE_PUBMED_SOURCE), FIRST, tmp_path))
    pmids = list(result.report.changed_pmids)
    assert pmids and result.report.reconciles()
    assert set(result.affected_categories) == _categories_by_hand(con, pmids)
    assert result.affected_categories == sorted(result.affected_categories)
    citations, with_abstract = con.execute(
        "SELECT count(*), count(abstract) FROM citations WHERE source_file = ?", [FIRST]
    ).fetchall()[0]
    assert (result.totals.citations, result.totals.with_abstract) == (citations, with_abstract)
    assert result.totals.with_mesh_but_no_category <= result.totals.with_mesh <= citations
    # The totals are the file's own: a second file adds to the corpus count only.
    second = load_release(con, fetch_release(str(settings.SAMPLE_PUBMED_SOURCE), SECOND, tmp_path))
    (corpus,) = con.execute("SELECT count(*) FROM citations").fetchall()[0]
    assert second.totals.corpus_citations == corpus > second.totals.citations
    assert (
        second.totals.citations
        == con.execute("SELECT count(*) FROM citations WHERE source_file = ?", [SECOND]).fetchall()[
            0
        ][0]
    )


def _members_by_hand(con: duckdb.DuckDBPyConnection) -> dict[str, set[int]]:
    """Category -> PMIDs with an abstract of 50..20,000 characters, by the rule above."""
    members: dict[str, set[int]] = {}
    for pmid, abstract in con.execute("SELECT pmid, trim(abstract) FROM citations").fetchall():
        if abstract and 50 <= len(abstract) <= 20_000:
            for category in _categories_by_hand(con, [pmid]):
                members.setdefault(category, set()).add(pmid)
    return members


def test_raw_abstracts_rewrite_only_what_changed_and_quarantine_the_rest(con, tmp_path):
    _load_mesh(con)
    load_release(con, fetch_release(str(settings.SAMPLE_PUBMED_SOURCE), FIRST, tmp_path))
    members = _members_by_hand(con)
    category = max(members, key=lambda c: len(members[c]))  # the sample's best-covered category
    first = build_raw_abstracts(con, category, 50, 20_000)
    assert first.inserted == first.total == len(members[category]) and first.deleted == 0
    written = {r[0] for r in con.execute("SELECT pmid FROM raw_abstracts").fetchall()}
    assert written == members[category]
    assert {row[0] for row in first.preview.rows} <= written
    unchanged = build_raw_abstracts(con, category, 50, 20_000)
    assert (unchanged.inserted, unchanged.deleted, unchanged.total) == (0, 0, first.total)
    # Nothing is long enough: every row leaves the partition and is quarantined with a reason.
    strict = build_raw_abstracts(con, category, 10**9, 10**9 + 1)
    assert (strict.total, strict.deleted, strict.inserted) == (0, first.total, 0)
    assert strict.quarantined >= first.total
    reasons = con.execute(
        "SELECT count(*) FROM quarantine WHERE asset = 'raw_abstracts' AND source = ? AND "
        "reason LIKE 'abstract length % outside%'",
        [f"category:{category}"],
    ).fetchall()[0][0]
    assert reasons == strict.quarantined
