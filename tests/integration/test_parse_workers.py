"""Parser worker processes: answers in order, errors with their type, a dead worker reported
clearly, and never a process left behind."""

from __future__ import annotations

import gzip
import os
import signal

import psutil
import pytest

from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.ingest.errors import PubMedFormatError
from mkailin_assets.ingest.parse_workers import ParserProcessPool, WorkerCrashed
from mkailin_assets.ingest.pubmed_chunks import iter_record_chunks
from mkailin_assets.ingest.pubmed_loader import load_pubmed_file
from tests.conftest import BASELINE_FILE, require_shared

SAMPLE_ARTICLE = b"""<PubmedArticle><MedlineCitation Status="MEDLINE"><PMID Version="1">%d</PMID>
<Article><ArticleTitle>Title %d</ArticleTitle></Article></MedlineCitation></PubmedArticle>"""


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def _left_behind(before: set[int]) -> set[int]:
    """Children started since `before` that still exist (others may come and go meanwhile)."""
    return _children() - before


def test_pool_answers_each_chunk_and_sends_errors_back_typed():
    before = _children()
    with ParserProcessPool(2, "pubmed99n0001.xml.gz") as pool:
        futures = [pool.submit(SAMPLE_ARTICLE % (n, n), 1, n) for n in range(1, 7)]
        bad = pool.submit(b"<PubmedArticle><oops></PubmedArticle>", 40, 7)
        batches = [future.result(timeout=60) for future in futures]
        with pytest.raises(PubMedFormatError, match="pubmed99n0001.xml.gz at line 40"):
            bad.result(timeout=60)
        assert len(_left_behind(before)) == 2
    assert [batch.tables["citations"]["pmid"].to_pylist() for batch in batches] == [
        [n] for n in range(1, 7)
    ]
    assert _left_behind(before) == set()


def test_a_killed_worker_fails_its_chunk_clearly_and_close_reaps_everything():
    before = _children()
    pool = ParserProcessPool(1, "pubmed99n0001.xml.gz")
    assert pool.submit(SAMPLE_ARTICLE % (1, 1), 1, 0).result(timeout=60).articles_read == 1
    (worker,) = _children() - before
    os.kill(worker, signal.SIGKILL)
    psutil.Process(worker).wait(timeout=10)
    with pytest.raises(WorkerCrashed, match="parser process failed"):
        pool.submit(SAMPLE_ARTICLE % (2, 2), 1, 1).result(timeout=60)
    pool.close()
    assert _left_behind(before) == set()


@pytest.mark.slow
def test_loads_leave_no_worker_behind_whether_they_succeed_or_fail(tmp_path):
    require_shared(BASELINE_FILE)
    before = _children()
    con = open_connection(tmp_path / "db.duckdb")
    apply_schema(con)
    assert load_pubmed_file(con, BASELINE_FILE, workers=2).citations_upserted == 30_000
    assert _left_behind(before) == set()

    # A file whose last chunk is malformed: the error surfaces, the workers are gone.
    first, _ = next(iter_record_chunks(BASELINE_FILE, BASELINE_FILE.name, 4 << 20))
    broken = tmp_path / "pubmed99n0002.xml.gz"
    broken.write_bytes(
        gzip.compress(b"<PubmedArticleSet>" + first + b"<PubmedArticle><oops></PubmedArticleSet>")
    )
    with pytest.raises(PubMedFormatError, match="pubmed99n0002.xml.gz"):
        load_pubmed_file(con, broken, workers=2)
    assert _left_behind(before) == set()
    con.close()
