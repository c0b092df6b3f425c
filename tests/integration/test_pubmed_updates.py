"""A baseline then an update: revisions, deletions, the ledger, idempotence, and atomic failure."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from mkailin_assets.agents.mesh_similarity import snapshot_inputs
from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.ingest.errors import ChecksumMismatchError, PubMedFormatError
from mkailin_assets.ingest.pubmed_loader import load_pubmed_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
BASELINE = FIXTURES / "pubmed" / "baseline" / "pubmed99n0001.xml"
UPDATE = FIXTURES / "pubmed" / "updatefiles" / "pubmed99n0002.xml"
TABLES = ("citations", "citation_mesh", "deleted_citations", "pubmed_files", "quarantine")


@pytest.fixture
def con(tmp_db):
    connection = open_connection(tmp_db)
    apply_schema(connection)
    yield connection
    connection.close()


def _counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _load_both(con):
    return load_pubmed_file(con, BASELINE), load_pubmed_file(con, UPDATE)


def test_baseline_report_reconciles(con):
    report = load_pubmed_file(con, BASELINE)
    assert report.kind == "baseline" and report.md5_verified  # .md5 beside the file
    assert (report.articles_read, report.citations_upserted, report.duplicates_in_file) == (9, 6, 1)
    assert (report.quarantined, report.citations_skipped_older, report.deletions) == (2, 0, 0)
    assert report.reconciles()
    assert report.changed_pmids == [1001, 1002, 1003, 1004, 1007, 2001]
    # Within one file the later record of a PMID wins.
    title = con.execute("SELECT title FROM citations WHERE pmid = 1003").fetchone()[0]
    assert title == "Second copy of 1003, later in the file."
    quarantine = con.execute(
        "SELECT position, record_key, reason FROM quarantine ORDER BY position"
    ).fetchall()
    assert quarantine == [
        ("line 103", "12ab", "non-numeric PMID '12ab'"),
        ("line 96", None, "no PMID"),
    ]


def test_update_revises_deletes_and_keeps_newer_versions(con):
    _, update = _load_both(con)
    assert update.kind == "update" and update.reconciles()
    assert (update.articles_read, update.citations_upserted) == (5, 4)
    assert (update.citations_skipped_older, update.deletions) == (1, 2)
    # 1003 came again unchanged: rewritten but not "changed"; 1004 deleted; 9999 never known.
    assert update.changed_pmids == [1001, 1002, 1004, 1005]

    rows = {
        pmid: (version, title, source_file)
        for pmid, version, title, source_file in con.execute(
            "SELECT pmid, version, title, source_file FROM citations"
        ).fetchall()
    }
    assert sorted(rows) == [1001, 1002, 1003, 1005, 1007, 2001]
    assert rows[1001] == (2, "Version two of 1001.", "pubmed99n0002.xml")
    # The update's version 1 of 1007 is older than the stored version 2: skipped.
    assert rows[1007] == (
        2,
        "Version two of 1007, newer than the update's copy.",
        "pubmed99n0001.xml",
    )
    abstract_1002 = con.execute("SELECT abstract FROM citations WHERE pmid = 1002").fetchone()[0]
    assert abstract_1002 == "Same version, but now it has an abstract."  # same version, later file

    mesh = con.execute(
        "SELECT pmid, descriptor_ui, major_topic FROM citation_mesh ORDER BY 1"
    ).fetchall()
    assert mesh == [(1001, "D000818", True), (1003, "D000818", False)]
    deleted = con.execute(
        "SELECT pmid, file_name, was_known FROM deleted_citations ORDER BY 1"
    ).fetchall()
    assert deleted == [(1004, "pubmed99n0002.xml", True), (9999, "pubmed99n0002.xml", False)]
    ledger = con.execute(
        "SELECT file_name, kind, md5_verified, articles_read, deletions, changed_pmids"
        " FROM pubmed_files ORDER BY file_name"
    ).fetchall()
    assert ledger == [
        ("pubmed99n0001.xml", "baseline", True, 9, 0, [1001, 1002, 1003, 1004, 1007, 2001]),
        ("pubmed99n0002.xml", "update", False, 5, 2, [1001, 1002, 1004, 1005]),
    ]


def test_reloading_is_a_no_op(con):
    _load_both(con)
    before = _counts(con)
    loaded_at = con.execute("SELECT max(loaded_at) FROM citations").fetchone()[0]
    again = load_pubmed_file(con, UPDATE)
    assert again.skipped_as_already_loaded and again.articles_read == 0
    assert _counts(con) == before
    assert con.execute("SELECT max(loaded_at) FROM citations").fetchone()[0] == loaded_at


def test_a_later_file_brings_a_deleted_pmid_back(con, tmp_path):
    _load_both(con)
    revived = tmp_path / "pubmed99n0003.xml"
    text = BASELINE.read_text()
    revived.write_text(text)
    report = load_pubmed_file(con, revived, kind="update")
    assert 1004 in report.changed_pmids
    assert con.execute("SELECT count(*) FROM citations WHERE pmid = 1004").fetchone()[0] == 1
    assert con.execute("SELECT pmid FROM deleted_citations").fetchall() == [(9999,)]


def test_every_load_that_changes_the_corpus_changes_the_ic_snapshot_inputs(con, tmp_path):
    """The IC snapshot's digest reads the loads and the row counts, not the corpus: every load
    that changes citations or headings must change it, a skipped reload must not."""
    digests = [snapshot_inputs(con).digest]
    for release in (BASELINE, UPDATE):
        load_pubmed_file(con, release)
        digests.append(snapshot_inputs(con).digest)
    assert load_pubmed_file(con, UPDATE).skipped_as_already_loaded
    digests.append(snapshot_inputs(con).digest)
    assert len(set(digests)) == 3 and digests[-1] == digests[-2]

    # A corrected update under the same name: one heading swapped, every row count the same.
    mesh_before = con.execute("SELECT count(*) FROM citation_mesh").fetchone()[0]
    corrected = tmp_path / UPDATE.name
    corrected.write_text(
        UPDATE.read_text().replace('UI="D000818" MajorTopicYN="Y"', 'UI="D009369" MajorTopicYN="Y"')
    )
    report = load_pubmed_file(con, corrected, kind="update")
    assert not report.skipped_as_already_loaded
    assert con.execute("SELECT count(*) FROM citation_mesh").fetchone()[0] == mesh_before
    assert ("D009369",) in con.execute("SELECT descriptor_ui FROM citation_mesh").fetchall()
    assert snapshot_inputs(con).digest not in digests


@pytest.mark.parametrize("bad", ["truncated", "malformed"])
def test_a_bad_file_leaves_the_previous_state_untouched(con, tmp_path, bad):
    _load_both(con)
    before = _counts(con)
    # Big enough that many records parse before the fault, in the parallel path too.
    records = BASELINE.read_bytes().split(b"<PubmedArticleSet>", 1)[1]
    records = records.replace(b"</PubmedArticleSet>", b"")
    body = b"<PubmedArticleSet>" + records.replace(b">1001<", b">5001<") * 800
    if bad == "truncated":
        packed = gzip.compress(body + b"</PubmedArticleSet>")
        path = tmp_path / "pubmed99n0004.xml.gz"
        path.write_bytes(packed[: int(len(packed) * 0.95)])
    else:
        path = tmp_path / "pubmed99n0004.xml.gz"
        path.write_bytes(gzip.compress(body + b"<PubmedArticle><oops></PubmedArticleSet>"))
    for workers in (0, 2):
        with pytest.raises(PubMedFormatError, match="pubmed99n0004.xml.gz"):
            load_pubmed_file(con, path, workers=workers)
        assert _counts(con) == before
    assert con.execute("SELECT count(*) FROM citations WHERE pmid = 5001").fetchone()[0] == 0


def test_md5_mismatch_is_refused_before_parsing(con, tmp_path):
    path = tmp_path / "pubmed99n0001.xml"
    shutil.copy(BASELINE, path)
    with pytest.raises(ChecksumMismatchError, match="pubmed99n0001.xml: md5"):
        load_pubmed_file(con, path, expected_md5="0" * 32)
    assert _counts(con)["citations"] == 0


def test_parallel_load_works_from_a_script_on_stdin(tmp_path):
    """Parser workers are fresh interpreters: nothing re-imports the caller's __main__ (stdin here)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent.parent
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from mkailin_assets.db import open_connection, apply_schema\n"
        "from mkailin_assets.ingest.pubmed_loader import load_pubmed_file\n"
        "con = open_connection(':memory:'); apply_schema(con)\n"
        "r = load_pubmed_file(con, sys.argv[2], workers=2)\n"
        "print(r.citations_upserted, r.reconciles())\n"
    )
    done = subprocess.run(
        [sys.executable, "-", str(repo), str(BASELINE)],
        input=script,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["6", "True"]
