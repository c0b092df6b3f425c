"""Real NLM files: the parser and loader against expectations computed independently (regex over
the decompressed text), on the 2020 baseline file, the 2021 heads, efetch samples and MeSH files.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from pathlib import Path

import pytest

from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.ingest.mesh_xml import load_mesh_descriptors, parse_mesh_file
from mkailin_assets.ingest.pubmed_loader import load_pubmed_file
from mkailin_assets.ingest.pubmed_records import Citation, parse_pubmed_file
from tests.conftest import BASELINE_FILE, SHARED_DATA, require_shared

SAMPLES = SHARED_DATA / "pubmed" / "samples"
MESH_DIR = SHARED_DATA / "mesh"
ARTICLE = re.compile(r"<PubmedArticle>(.*?)</PubmedArticle>", re.DOTALL)
PMID = re.compile(r"<MedlineCitation[^>]*>\s*<PMID[^>]*>(\d+)</PMID>")
HEADING = re.compile(r"<MeshHeading>(.*?)</MeshHeading>", re.DOTALL)
DESCRIPTOR_UI = re.compile(r'<DescriptorName UI="(D\d+)"')
ABSTRACT = re.compile(r"<Abstract>(.*?)</Abstract>", re.DOTALL)
MARKUP = re.compile(r"</?(?:b|i|u|sub|sup|mml:\w+)\b")  # tags that must have been flattened


def _text(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return stream.read()


def _expected(text: str) -> dict:
    """What a correct parser must find, computed without any XML parser."""
    articles = ARTICLE.findall(text)
    pairs = set()
    headings = major = labelled = 0
    for article in articles:
        pmid = int(PMID.search(article).group(1))
        for heading in HEADING.findall(article):
            headings += 1
            major += 'MajorTopicYN="Y"' in heading
            pairs.add((pmid, DESCRIPTOR_UI.search(heading).group(1)))
        abstract = ABSTRACT.search(article)
        labelled += bool(abstract and "Label=" in abstract.group(1))
    return {
        "articles": len(articles),
        "pmids": {int(p) for p in PMID.findall(text)},
        "headings": headings,
        "major_headings": major,
        "mesh_pairs": len(pairs),
        "labelled_abstracts": labelled,
        "statuses": Counter(re.findall(r'<MedlineCitation Status="([^"]+)"', text)),
    }


@pytest.fixture(scope="module")
def baseline_expected() -> dict:
    return _expected(_text(require_shared(BASELINE_FILE)))


@pytest.fixture(scope="module")
def loaded_baseline(tmp_path_factory):
    """The real baseline file loaded once into a fresh DuckDB file (parallel parser)."""
    require_shared(BASELINE_FILE)
    con = open_connection(tmp_path_factory.mktemp("db") / "real.duckdb")
    apply_schema(con)
    report = load_pubmed_file(con, BASELINE_FILE)
    yield con, report
    con.close()


@pytest.mark.slow
def test_baseline_parse_matches_independent_counts(baseline_expected):
    items = parse_pubmed_file(BASELINE_FILE)  # the in-process iterparse path
    citations = [item for item in items if isinstance(item, Citation)]
    assert len(items) == len(citations) == baseline_expected["articles"] == 30_000
    assert {c.pmid for c in citations} == baseline_expected["pmids"]
    headings = [h for c in citations for h in c.mesh_headings]
    assert len(headings) == baseline_expected["headings"]
    assert sum(h["major_topic"] for h in headings) == baseline_expected["major_headings"]
    labelled = sum(any(s["label"] for s in c.abstract_sections) for c in citations)
    assert labelled == baseline_expected["labelled_abstracts"] > 0
    assert Counter(c.status for c in citations) == baseline_expected["statuses"]
    assert all(c.title and not MARKUP.search(c.title) for c in citations)


@pytest.mark.slow
def test_baseline_load_fills_tables(loaded_baseline, baseline_expected):
    con, report = loaded_baseline
    assert report.reconciles()
    assert (report.articles_read, report.citations_upserted) == (30_000, 30_000)
    assert len(report.changed_pmids) == len(baseline_expected["pmids"])
    assert con.execute("SELECT count(*) FROM citations").fetchone()[0] == len(
        baseline_expected["pmids"]
    )
    assert (
        con.execute("SELECT count(*) FROM citation_mesh").fetchone()[0]
        == (baseline_expected["mesh_pairs"])
    )
    stored_headings = con.execute("SELECT sum(len(mesh_headings)) FROM citations").fetchone()[0]
    assert stored_headings == baseline_expected["headings"]
    labelled = con.execute(
        "SELECT count(*) FROM citations WHERE len(list_filter(abstract_sections, lambda s: s.label IS NOT NULL)) > 0"
    ).fetchone()[0]
    assert labelled == baseline_expected["labelled_abstracts"]
    ledger = con.execute(
        "SELECT kind, articles_read, quarantined, bytes FROM pubmed_files"
    ).fetchall()
    assert ledger == [("baseline", 30_000, 0, BASELINE_FILE.stat().st_size)]


def test_2021_heads_statuses_medline_dates_and_markup(shared_data):
    for path in sorted((SAMPLES / "baseline_heads_2021").glob("*.xml.gz")):
        text = _text(path)
        expected = _expected(text)
        citations = [c for c in parse_pubmed_file(path) if isinstance(c, Citation)]
        assert len(citations) == expected["articles"], path.name
        assert Counter(c.status for c in citations) == expected["statuses"], path.name
        assert sum(len(c.mesh_headings) for c in citations) == expected["headings"], path.name
        for medline_date in re.findall(r"<MedlineDate>(\d{4})", text):
            assert int(medline_date) in {c.pub_year for c in citations}
        for citation in citations:
            assert not MARKUP.search(citation.abstract or "") and "  " not in (
                citation.abstract or ""
            )


def test_efetch_samples(shared_data):
    efetch = SAMPLES / "efetch"
    by_name = {
        p.stem: [c for c in parse_pubmed_file(p) if isinstance(c, Citation)]
        for p in efetch.glob("*.xml")
    }
    in_review = by_name["biopython_pubmed5"][0]
    assert in_review.status == "In-Data-Review" and in_review.mesh_headings == []
    assert len([s for s in in_review.abstract_sections if s["label"]]) == 4
    for name in ("biopython_pubmed6", "biopython_pubmed7"):  # MathML inside AbstractText
        abstract = by_name[name][0].abstract
        assert abstract and not MARKUP.search(abstract) and "mml" not in abstract
    assert "LEmin" in by_name["biopython_pubmed6"][0].abstract  # <sub> flattened
    structured = by_name["biopython_pubmed4"][0]
    assert len(structured.abstract_sections) == 4 and len(structured.mesh_headings) > 0


def test_mesh_samples(shared_data):
    expectations = {  # file: (descriptors, tree numbers), from ../shared/data/README.md
        "meshrdf_desc-samples.xml": (43, 71),
        "meshrdf_desc2014-head.xml": (63, 97),
        "w3c-exi_xml2006sample.xml": (1, 1),
    }
    for name, (descriptors, trees) in expectations.items():
        parsed = parse_mesh_file(MESH_DIR / name)
        assert len(parsed.descriptors) == descriptors, name
        assert sum(len(d.tree_numbers) for d in parsed.descriptors) == trees, name
        assert parsed.quarantined == []
        assert all(d.descriptor_ui in _text(MESH_DIR / name) for d in parsed.descriptors)


def test_mesh_2024_full_set(mesh_2024, tmp_db):
    con = open_connection(tmp_db)
    apply_schema(con)
    text = _text(mesh_2024)
    report = load_mesh_descriptors(con, mesh_2024, expected_year=2024)
    assert report.descriptors == text.count("<DescriptorRecord>") == 30_764
    assert report.tree_numbers == text.count("<TreeNumber>") == 64_457
    categories = dict(
        con.execute(
            "SELECT left(t, 1), count(*) FROM (SELECT unnest(tree_numbers) AS t FROM mesh_descriptors)"
            " GROUP BY 1"
        ).fetchall()
    )
    assert sum(categories.values()) == 64_457 and set(categories) <= set("ABCDEFGHIJKLMNVZ")
    con.close()


@pytest.mark.slow
def test_parallel_workers_store_exactly_what_the_streaming_parser_stores(loaded_baseline, tmp_path):
    """The worker-process path (the fixture's load) and the in-process iterparse path give the
    same citations, column for column, on the real 30,000-record file."""
    parallel, _ = loaded_baseline
    con = open_connection(tmp_path / "streamed.duckdb")
    apply_schema(con)
    load_pubmed_file(con, BASELINE_FILE, workers=0)
    columns = (
        "pmid, version, title, abstract, abstract_sections, languages, journal, pub_year,"
        " publication_types, mesh_headings, keywords, doi, date_revised, status, content_hash"
    )
    con.register(
        "p_citations", parallel.execute(f"SELECT {columns} FROM citations").to_arrow_table()
    )
    differing = con.execute(
        f"SELECT count(*) FROM ((SELECT {columns} FROM citations"
        f" EXCEPT ALL SELECT {columns} FROM p_citations)"
        f" UNION ALL (SELECT {columns} FROM p_citations"
        f" EXCEPT ALL SELECT {columns} FROM citations))"
    ).fetchone()[0]
    assert differing == 0
    assert con.execute("SELECT count(*) FROM citations").fetchone()[0] == 30_000
    con.close()


def _real_release_files() -> list[Path]:
    return sorted((SAMPLES / "baseline_heads_2021").glob("*.xml.gz")) + sorted(
        (SAMPLES / "efetch").glob("*.xml")
    )


def test_compiled_scanner_matches_lxml_on_real_files(shared_data):
    """Chunk by chunk, the C fast path (with its lxml fallback) and lxml alone give identical
    Arrow tables, quarantine rows and deletions on the 2021 heads and the efetch samples (the
    2020 baseline is compared through the loader above)."""
    from mkailin_assets.ingest.pubmed_chunks import iter_record_chunks, parse_chunk

    files = _real_release_files()
    assert files
    for path in files:
        for index, (chunk, line) in enumerate(iter_record_chunks(path, path.name, 1 << 20)):
            fast = parse_chunk(chunk, line, index, path.name, fast=True)
            slow = parse_chunk(chunk, line, index, path.name, fast=False)
            assert fast.articles_read == slow.articles_read, path.name
            for table in ("citations", "headings"):
                assert fast.tables[table].equals(slow.tables[table]), (path.name, table)
            assert [(q.line, q.reason) for q in fast.quarantined] == [
                (q.line, q.reason) for q in slow.quarantined
            ]
            assert fast.deleted_pmids == slow.deleted_pmids
