"""The PubMed XML parser on hand-written fixtures (NLM's DTD): fields, markup, quarantine, errors."""

from __future__ import annotations

import gzip
import hashlib
from datetime import date
from pathlib import Path

import pytest

from mkailin_assets.ingest.errors import PubMedFormatError
from mkailin_assets.ingest.pubmed_batches import iter_pubmed_batches
from mkailin_assets.ingest.pubmed_chunks import iter_record_chunks, parse_chunk
from mkailin_assets.ingest.pubmed_columns import content_hash
from mkailin_assets.ingest.pubmed_records import (
    Citation,
    Deletion,
    QuarantinedRecord,
    parse_pubmed_file,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
BASELINE = FIXTURES / "pubmed" / "baseline" / "pubmed99n0001.xml"
UPDATE = FIXTURES / "pubmed" / "updatefiles" / "pubmed99n0002.xml"
BAD = FIXTURES / "bad"


@pytest.fixture(scope="module")
def baseline_items() -> list:
    return parse_pubmed_file(BASELINE)


def _citations(items: list) -> dict[int, Citation]:
    """The last record per PMID (the file's order decides duplicates)."""
    return {item.pmid: item for item in items if isinstance(item, Citation)}


def test_structured_abstract_keeps_labels_and_flattens_markup(baseline_items):
    citation = _citations(baseline_items)[1001]
    assert citation.title == "Effect of Escherichia coli on CO2 uptake."
    assert citation.abstract_sections == [
        {
            "label": "BACKGROUND",
            "nlm_category": "BACKGROUND",
            "text": "We studied bacteria in soil.",
        },
        {
            "label": "RESULTS",
            "nlm_category": "RESULTS",
            "text": "Uptake rose by 103-fold (p < 0.05).",
        },
    ]
    assert citation.abstract == (
        "BACKGROUND: We studied bacteria in soil.\nRESULTS: Uptake rose by 103-fold (p < 0.05)."
    )


def test_citation_fields(baseline_items):
    citation = _citations(baseline_items)[1001]
    assert (citation.version, citation.status, citation.journal) == (
        1,
        "MEDLINE",
        "Journal of Fixture Studies",
    )
    assert citation.pub_year == 2019
    assert citation.languages == ["eng"]
    assert citation.publication_types == ["Journal Article"]
    assert citation.keywords == ["soil", "carbon dioxide"]
    assert citation.date_revised == date(2020, 3, 15)
    # PubmedData's ArticleIdList wins over ELocationID; references' DOIs are never taken.
    assert citation.doi == "10.1000/articleid.1001"
    assert citation.line == 5


def test_heading_is_major_when_a_qualifier_is_major(baseline_items):
    headings = _citations(baseline_items)[1001].mesh_headings
    assert headings[0] == {
        "descriptor_ui": "D004926",
        "name": "Escherichia coli",
        "major_topic": True,
        "qualifiers": [{"ui": "Q000378", "name": "metabolism", "major_topic": True}],
    }
    assert headings[1]["major_topic"] is False and headings[1]["qualifiers"] == []


def test_medline_date_multiple_languages_and_unknown_elements(baseline_items):
    citation = _citations(baseline_items)[1002]
    assert citation.pub_year == 1998  # from MedlineDate "1998 Dec-1999 Jan"
    assert citation.languages == ["fre", "eng"]
    assert citation.abstract is None and citation.abstract_sections == []
    assert citation.status == "PubMed-not-MEDLINE"


def test_book_article(baseline_items):
    book = _citations(baseline_items)[2001]
    assert book.title == "The Fixture Handbook"
    assert book.abstract == "INTRODUCTION: A book-length review.\nSUMMARY: It summarises."
    assert (book.pub_year, book.doi, book.journal) == (2015, "10.1000/book.2001", None)
    assert book.publication_types == ["Review"] and book.keywords == ["handbook"]


def test_records_without_usable_pmid_are_quarantined_with_position(baseline_items):
    quarantined = [item for item in baseline_items if isinstance(item, QuarantinedRecord)]
    assert [(q.reason, q.record_key, q.line) for q in quarantined] == [
        ("no PMID", None, 96),
        ("non-numeric PMID '12ab'", "12ab", 103),
    ]
    assert all(q.raw_excerpt.startswith("<PubmedArticle>") for q in quarantined)


def test_duplicates_are_all_reported_in_file_order(baseline_items):
    copies = [i.title for i in baseline_items if isinstance(i, Citation) and i.pmid == 1003]
    assert copies == ["First copy of 1003.", "Second copy of 1003, later in the file."]


def test_version_and_deletions():
    items = parse_pubmed_file(UPDATE)
    assert _citations(items)[1001].version == 2
    deletions = [item for item in items if isinstance(item, Deletion)]
    assert [d.pmids for d in deletions] == [[1004, 9999]]
    assert "النص العربي" in _citations(items)[1005].title


def test_content_hash_tracks_title_abstract_and_major_mesh():
    base = content_hash("t", "a", ["D1"], [False])
    # The stored hashes of every loaded citation depend on this exact formula.
    assert base == hashlib.sha256(b"t\x1fa\x1fD1N").hexdigest()
    assert content_hash(None, None, [], []) == hashlib.sha256(b"\x1f").hexdigest()
    assert base != content_hash("t2", "a", ["D1"], [False])
    assert base != content_hash("t", "a2", ["D1"], [False])
    assert base != content_hash("t", "a", ["D1"], [True])
    assert base != content_hash("t", "a", [], [])


def test_chunked_parser_matches_streaming_parser(tmp_path):
    """The parallel path's chunking + chunk parser yields what iterparse yields, lines included."""
    streamed = [i for i in parse_pubmed_file(BASELINE) if not isinstance(i, Deletion)]
    chunks = list(iter_record_chunks(BASELINE, BASELINE.name, chunk_bytes=600))
    assert len(chunks) > 3
    batches = [
        parse_chunk(chunk, line, index, BASELINE.name) for index, (chunk, line) in enumerate(chunks)
    ]
    pmids = [pmid for b in batches for pmid in b.tables["citations"].column("pmid").to_pylist()]
    assert pmids == [i.pmid for i in streamed if isinstance(i, Citation)]
    lines = [q.line for b in batches for q in b.quarantined]
    assert lines == [i.line for i in streamed if isinstance(i, QuarantinedRecord)]


def test_in_process_batches_count_everything():
    batches = list(iter_pubmed_batches(BASELINE, batch_size=3, workers=0))
    assert sum(b.articles_read for b in batches) == 9
    assert sum(len(b.quarantined) for b in batches) == 2


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("malformed.xml", "malformed.xml at line 12: malformed XML"),
        ("not_pubmed.xml", "root element is <DescriptorRecordSet>, expected <PubmedArticleSet>"),
        ("empty.xml", "empty.xml: empty file"),
        ("truncated.xml.gz", "truncated.xml.gz: unreadable (corrupt or truncated gzip?)"),
    ],
)
def test_bad_files_raise_errors_naming_the_file(fixture, message):
    with pytest.raises(PubMedFormatError) as caught:
        parse_pubmed_file(BAD / fixture)
    assert message in str(caught.value)
    assert caught.value.file == fixture


def test_truncated_gzip_of_a_bigger_file_names_the_last_good_line(tmp_path):
    """Truncation past the first records: the error says where reading stopped."""
    body = BASELINE.read_bytes().replace(b"</PubmedArticleSet>", b"") * 1
    records = body.split(b"<PubmedArticleSet>", 1)[1]
    big = b"<PubmedArticleSet>" + records * 200 + b"</PubmedArticleSet>"
    packed = gzip.compress(big)
    path = tmp_path / "pubmed99n0003.xml.gz"
    path.write_bytes(packed[: int(len(packed) * 0.9)])
    with pytest.raises(PubMedFormatError, match=r"pubmed99n0003.xml.gz at line \d+: unreadable"):
        parse_pubmed_file(path)
    with pytest.raises(PubMedFormatError, match=r"pubmed99n0003.xml.gz.*unreadable"):
        list(iter_record_chunks(path, path.name, chunk_bytes=1 << 12))


def test_truncated_plain_xml_is_malformed(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_bytes(BASELINE.read_bytes()[:3000])
    with pytest.raises(PubMedFormatError, match="cut.xml at line"):
        parse_pubmed_file(path)
    with pytest.raises(PubMedFormatError, match="cut.xml"):
        for index, (chunk, line) in enumerate(iter_record_chunks(path, path.name, 1 << 12)):
            parse_chunk(chunk, line, index, path.name)
