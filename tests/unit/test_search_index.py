"""The on-disk BM25 index: build, incremental refresh vs rebuild, watermark, faults."""

from __future__ import annotations

import errno
import json
import logging
import shutil

import pytest
import tantivy

from mkailin_assets.agents import search_index
from mkailin_assets.agents.retrieval import bm25_top_k, refresh_bm25_index
from mkailin_assets.db import apply_schema, open_connection
from tests.unit.test_retrieval import DOCS, load_docs, queries, upsert_citation

QUESTIONS = ("sepsis lactate", "insulin obesity", "asthma children", "zebrafish sepsis model")


@pytest.fixture
def con(tmp_db):
    connection = open_connection(tmp_db)
    apply_schema(connection)
    connection.complete()
    yield connection
    connection.close()


def top(con, k=3):
    return bm25_top_k(con, queries(*QUESTIONS), k=k).rows()


def watermark(con):
    return con.execute(
        "SELECT pmid, content_hash FROM retrieval_index_docs ORDER BY pmid"
    ).fetchall()


def change_corpus(con):
    upsert_citation(con, 2, "Insulin resistance", "Now about asthma and sepsis instead.")
    con.execute("DELETE FROM citations WHERE pmid = 4")
    upsert_citation(con, 7, "Zebrafish sepsis model", "A new zebrafish model.")
    upsert_citation(con, 6, None, None)  # emptied: leaves the index


def serves_previous_commit(con, before):
    """The index still holds the commit before the failed refresh: its 6 documents, not pmid 7
    (added to citations since); pools are re-scored from today's texts, so pmid 4 (deleted
    from citations since) is dropped and the other PMIDs of the earlier top lists remain."""
    search_index._OPEN.clear()
    assert search_index.open_searchable(con).n_docs == 6
    found = {pmid for _, _, pmid, _ in top(con, k=10)}
    assert 7 not in found and 4 not in found
    assert {pmid for _, _, pmid, _ in before} - {4} <= found


def test_build_lives_beside_the_database_and_records_its_watermark(con, tmp_db, caplog):
    load_docs(con)
    with caplog.at_level(logging.INFO):
        report = refresh_bm25_index(con)
    assert report["action"] == "rebuilt" and report["documents"] == 6
    # A first build is normal: said at INFO, never as a warning.
    assert "building the retrieval index" in caplog.text and "first build" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    path = search_index.index_dir(con)
    assert path == tmp_db.parent / f"{tmp_db.name}.bm25" and (path / "meta.json").exists()
    assert [p for p, _ in watermark(con)] == [1, 2, 3, 4, 5, 6]
    state = search_index.read_state(con)
    marker = json.loads((path / search_index.MARKER_FILE).read_text())
    assert marker["index_uid"] == state.index_uid and state.status == "ok"
    again = refresh_bm25_index(con)
    assert (again["action"], again["touched"]) == ("incremental", 0)


def test_incremental_refresh_gives_the_top_k_of_a_full_rebuild(con, tmp_path):
    load_docs(con)
    refresh_bm25_index(con)
    change_corpus(con)
    report = refresh_bm25_index(con)
    assert report["action"] == "incremental"
    assert (report["indexed_new"], report["removed"], report["documents"]) == (2, 2, 5)
    incremental = top(con)

    fresh = open_connection(tmp_path / "fresh.duckdb")
    apply_schema(fresh)
    fresh.complete()
    load_docs(fresh, {p: DOCS[p] for p in (1, 3, 5)})
    upsert_citation(fresh, 2, "Insulin resistance", "Now about asthma and sepsis instead.")
    upsert_citation(fresh, 7, "Zebrafish sepsis model", "A new zebrafish model.")
    assert refresh_bm25_index(fresh)["action"] == "rebuilt"
    rebuilt = top(fresh)
    # Same top-k; scores may differ slightly until tantivy merges away deleted documents, whose
    # tokens still count in the average length (as in Lucene).
    assert [r[:3] for r in incremental] == [r[:3] for r in rebuilt]
    assert [r[3] for r in incremental] == pytest.approx([r[3] for r in rebuilt], rel=0.1)
    assert watermark(con) == watermark(fresh)
    fresh.close()
    assert 4 not in {pmid for _, _, pmid, _ in incremental}


def test_refresh_killed_before_the_index_commit_leaves_the_previous_index(con, monkeypatch):
    load_docs(con)
    refresh_bm25_index(con)
    before = top(con)
    change_corpus(con)

    def killed(*args):
        raise KeyboardInterrupt  # the process dies half-way through adding documents

    monkeypatch.setattr(search_index, "_add_documents", killed)
    with pytest.raises(KeyboardInterrupt):
        refresh_bm25_index(con)
    monkeypatch.undo()
    serves_previous_commit(con, before)
    report = refresh_bm25_index(con)  # the next refresh repairs
    assert report["action"] == "incremental" and report["documents"] == 5
    assert con.execute("SELECT count(*) FROM retrieval_index_pending").fetchall()[0][0] == 0


def test_refresh_killed_between_index_and_database_commits_is_repaired(con, monkeypatch):
    load_docs(con)
    refresh_bm25_index(con)
    change_corpus(con)
    real_commit = tantivy.IndexWriter.commit
    calls = []

    class Killed(BaseException):
        pass

    def commit_then_die(self):
        calls.append(1)
        real_commit(self)
        raise Killed

    monkeypatch.setattr(search_index, "_commit", commit_then_die)
    with pytest.raises(Killed):
        refresh_bm25_index(con)
    monkeypatch.undo()
    assert calls and search_index.read_state(con).status == "refreshing"
    # Meanwhile the corpus moves on: pmid 7, added to the index but not to the watermark, goes.
    con.execute("DELETE FROM citations WHERE pmid = 7")
    report = refresh_bm25_index(con)
    assert report["action"] == "incremental" and report["documents"] == 4
    assert search_index.read_state(con).status == "ok"
    assert 7 not in {pmid for _, _, pmid, _ in top(con, k=10)}
    assert search_index.open_searchable(con).n_docs == 4


@pytest.mark.parametrize("damage", ["missing", "no_marker", "corrupt", "foreign", "old_format"])
def test_a_damaged_or_foreign_index_is_rebuilt_with_a_log_line(con, tmp_path, damage, caplog):
    load_docs(con)
    refresh_bm25_index(con)
    expected = top(con)
    path = search_index.index_dir(con)
    marker = path / search_index.MARKER_FILE
    if damage == "missing":
        shutil.rmtree(path)
    elif damage == "no_marker":
        marker.unlink()
    elif damage == "corrupt":
        (path / "meta.json").write_text("{not json")
    elif damage == "foreign":
        other = open_connection(tmp_path / "other.duckdb")
        apply_schema(other)
        other.complete()
        load_docs(other)
        refresh_bm25_index(other)
        shutil.rmtree(path)
        shutil.copytree(search_index.index_dir(other), path)
        other.close()
    else:
        marker.write_text(json.dumps(json.loads(marker.read_text()) | {"format_version": 0}))
    search_index._OPEN.clear()
    with pytest.raises(search_index.RetrievalIndexError, match="not usable"):
        top(con)  # never silently empty: a query against a bad index fails
    with caplog.at_level(logging.WARNING):
        report = refresh_bm25_index(con)
    assert report["action"] == "rebuilt" and "rebuilding the retrieval index" in caplog.text
    assert top(con) == expected


def test_disk_full_during_refresh_is_a_clear_error_and_keeps_the_index(con, monkeypatch):
    load_docs(con)
    refresh_bm25_index(con)
    before = top(con)
    change_corpus(con)

    def full(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(search_index, "_commit", full)
    with pytest.raises(search_index.RetrievalIndexError, match="disk is full"):
        refresh_bm25_index(con)
    monkeypatch.undo()
    serves_previous_commit(con, before)
    assert refresh_bm25_index(con)["documents"] == 5


def test_question_without_indexable_term_is_an_error(con):
    load_docs(con)
    refresh_bm25_index(con)
    with pytest.raises(search_index.NoIndexableTermError):
        bm25_top_k(con, queries("sepsis", "?? -- of the (and) :"), k=4)
    # query syntax characters are never interpreted: they are not tokens
    assert bm25_top_k(con, queries('sepsis:"lactate" +(AND) -asthma'), k=1)["pmid"][0] == 3


def test_refresh_of_unchanged_citations_skips_the_diff(con, monkeypatch):
    load_docs(con)
    refresh_bm25_index(con)
    # The corpus-wide diff would now fail: an unchanged digest must not reach it.
    monkeypatch.setattr(search_index, "_diff", lambda _: pytest.fail("diffed unchanged citations"))
    again = refresh_bm25_index(con)
    assert again["unchanged"] is True and again["documents"] == 6
    monkeypatch.undo()
    upsert_citation(con, 7, "Zebrafish sepsis model", "A new zebrafish model.")
    changed = refresh_bm25_index(con)
    assert "unchanged" not in changed and (changed["indexed_new"], changed["documents"]) == (1, 7)
