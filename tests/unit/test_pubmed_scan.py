"""The compiled PubMed scanner against the lxml parser: same rows, same quarantine, same errors.

Every record below is parsed twice, by `parse_chunk(fast=True)` (C for ordinary PubmedArticle
records, lxml for the rest) and `parse_chunk(fast=False)` (lxml for everything); the batches must
be identical, or both must fail with the same error at the same line. Real NLM files get the same
comparison in tests/integration/test_ingest_real_files.py.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from mkailin_assets.ingest.errors import PubMedFormatError
from mkailin_assets.ingest.pubmed_chunks import iter_record_chunks, parse_chunk
from mkailin_assets.ingest.pubmed_columns import (
    SCANNER_COLUMNS,
    CitationColumns,
    ScannerMismatchError,
    check_scanner,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE_FILES = sorted((REPO / "data" / "sample" / "pubmed").rglob("*.xml.gz"))
FIXTURES = sorted((REPO / "tests" / "fixtures" / "ingest" / "pubmed").rglob("*.xml"))


def test_the_scanner_is_built():
    """CI builds it at install; a machine without a C compiler may opt out explicitly."""
    if os.environ.get("MKAILIN_ALLOW_NO_SCANNER") == "1":
        pytest.skip("MKAILIN_ALLOW_NO_SCANNER=1: the lxml path is used for every record")
    from mkailin_assets.ingest import _pubmed_scan  # noqa: F401 - must import


def _outcome(chunk: bytes, fast: bool, first_line: int = 1):
    try:
        batch = parse_chunk(chunk, first_line, 3, "test.xml", fast=fast)
    except PubMedFormatError as error:
        return ("error", error.line)
    tables = {name: table.to_pylist() for name, table in batch.tables.items()}
    quarantined = [(q.line, q.record_key, q.reason, q.raw_excerpt) for q in batch.quarantined]
    return ("ok", batch.articles_read, tables, quarantined, batch.deleted_pmids)


def assert_same(chunk: bytes, first_line: int = 1):
    fast, slow = _outcome(chunk, True, first_line), _outcome(chunk, False, first_line)
    assert fast == slow
    return fast


def article(
    medline: str = "",
    article_body: str = "",
    pubmed_data: str = "",
    *,
    pmid: str = '<PMID Version="1">123</PMID>',
    attrs: str = ' Status="MEDLINE" Owner="NLM"',
) -> str:
    body = article_body or (
        "<Journal><Title>J Test</Title><JournalIssue><PubDate><Year>2001</Year></PubDate>"
        "</JournalIssue></Journal><ArticleTitle>A title.</ArticleTitle>"
        "<Abstract><AbstractText>Text.</AbstractText></Abstract><Language>eng</Language>"
    )
    return (
        f"<PubmedArticle>\n<MedlineCitation{attrs}>\n{pmid}\n<Article>{body}</Article>\n"
        f"{medline}</MedlineCitation>\n<PubmedData>{pubmed_data}</PubmedData>\n</PubmedArticle>\n"
    )


def _fast_rows(chunk: bytes) -> list[dict]:
    outcome = assert_same(chunk)
    assert outcome[0] == "ok", outcome
    return outcome[2]["citations"]


FIELD_CASES = {
    "markup and entities": article(
        article_body="<ArticleTitle>The <i>lac</i>  operon &amp; <sup>2+</sup>\tions</ArticleTitle>"
        "<Abstract><AbstractText Label='BACKGROUND' NlmCategory='BACKGROUND'>We &lt;tested&gt;"
        " &#945;-helix &#x3b2;.</AbstractText><AbstractText Label='' NlmCategory='UNASSIGNED'>"
        "Plain.</AbstractText><AbstractText NlmCategory='METHODS'>By method.</AbstractText>"
        "<AbstractText Label='EMPTY'/><AbstractText/><CopyrightInformation>(c)</CopyrightInformation>"
        "</Abstract>"
    ),
    "unicode whitespace is split like str.split()": article(
        article_body="<ArticleTitle>\u00a0Hello\u2009world\u3000 &#160;again\u0085end\u200b"
        "</ArticleTitle><Language> eng\u00a0</Language>"
    ),
    "publication dates": article(
        article_body="<Journal><Title> J  One </Title><JournalIssue><PubDate><Year> </Year>"
        "<MedlineDate>Winter</MedlineDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate>"
        "</PubDate></JournalIssue></Journal>"
    ),
    "year before medline date": article(
        article_body="<Journal><JournalIssue><PubDate><MedlineDate>2005</MedlineDate>"
        "<Year> 0012 </Year></PubDate></JournalIssue></Journal>"
    ),
    "publication types as written": article(
        article_body="<PublicationTypeList><PublicationType UI='D1'>Journal Article"
        "</PublicationType><PublicationType> Review</PublicationType><PublicationType>A  B"
        "</PublicationType><PublicationType>Line\nbreak</PublicationType><PublicationType/>"
        "<PublicationType>Caf\u00e9\u00a0</PublicationType><Other>Odd  one</Other>"
        "</PublicationTypeList>"
    ),
    "mesh headings": article(
        "<MeshHeadingList><MeshHeading><DescriptorName UI='D000818' MajorTopicYN='N'>Animals"
        "</DescriptorName><QualifierName UI='Q000235' MajorTopicYN='Y'>genetics</QualifierName>"
        "<QualifierName MajorTopicYN='N'> odd  name </QualifierName></MeshHeading><MeshHeading>"
        "<DescriptorName MajorTopicYN='Y'>No UI</DescriptorName><QualifierName UI='Q1'>lost"
        "</QualifierName></MeshHeading><MeshHeading><DescriptorName UI='D2'/></MeshHeading>"
        "<MeshHeading><QualifierName UI='Q2' MajorTopicYN='Y'>orphan</QualifierName>"
        "</MeshHeading><Note>x</Note></MeshHeadingList>"
    ),
    "keywords from several lists": article(
        "<KeywordList Owner='NOTNLM'><Keyword>  cell   cycle </Keyword><Keyword/>"
        "<Keyword><i>in vivo</i> work</Keyword></KeywordList><KeywordList Owner='NLM'>"
        "<Keyword>second</Keyword></KeywordList>"
    ),
    "date revised": article(
        "<DateRevised><Year>2020</Year><Month>02</Month><Day>29</Day></DateRevised>"
    ),
    "date revised, impossible day": article(
        "<DateRevised><Year>2019</Year><Month>02</Month><Day>29</Day></DateRevised>"
    ),
    "date revised, month and day default to 1": article(
        "<DateRevised><Year>2019</Year><Month></Month><Hour>x</Hour></DateRevised>"
    ),
    "date revised without a year": article("<DateRevised><Month>2</Month></DateRevised>"),
    "doi from article ids, else the location": article(
        article_body="<ELocationID EIdType='pii'>S1</ELocationID><ELocationID EIdType='doi'>"
        " 10.1/eloc </ELocationID><ELocationID EIdType='doi'>10.1/second</ELocationID>",
        pubmed_data="<ArticleIdList><ArticleId IdType='pubmed'>123</ArticleId>"
        "<ArticleId IdType='doi'> </ArticleId><ArticleId IdType='doi'>10.1/x</ArticleId>"
        "</ArticleIdList><ReferenceList><Reference><ArticleIdList><ArticleId IdType='doi'>"
        "10.9/ref</ArticleId></ArticleIdList></Reference></ReferenceList>",
    ),
    "doi from article ids wins": article(
        article_body="<ELocationID EIdType='doi'>10.1/eloc</ELocationID>",
        pubmed_data='<ArticleIdList><ArticleId IdType="doi">10.1/ids</ArticleId></ArticleIdList>',
    ),
    "versions": article(pmid='<PMID Version=" 2 ">00124</PMID>')
    + article(pmid='<PMID Version="0">125</PMID>')
    + article(pmid="<PMID>126</PMID>", attrs=""),
    "empty title and abstract": article(
        article_body="<ArticleTitle> </ArticleTitle><Abstract></Abstract>"
    ),
    "attributes with spaces around '=' and quotes inside": article(
        article_body="<ArticleTitle>T</ArticleTitle><Abstract><AbstractText Label = \"a 'b'\" "
        "NlmCategory='&quot;c&quot;'>x</AbstractText></Abstract>"
    ),
}


@pytest.mark.parametrize("case", list(FIELD_CASES))
def test_fields_match_the_lxml_parser(case):
    rows = _fast_rows(FIELD_CASES[case].encode())
    assert rows  # the case yields citations, compared field by field above


def test_hand_checked_values():
    """A few values spelled out, so a shared mistake in both paths would still show."""
    (row,) = _fast_rows(FIELD_CASES["markup and entities"].encode())
    assert row["title"] == "The lac operon & 2+ ions"
    assert (
        row["abstract"]
        == "BACKGROUND: We <tested> \u03b1-helix \u03b2.\nPlain.\nMETHODS: By method.\nEMPTY: "
    )
    (row,) = _fast_rows(FIELD_CASES["unicode whitespace is split like str.split()"].encode())
    assert row["title"] == "Hello world again end\u200b" and row["languages"] == ["eng"]
    (row,) = _fast_rows(FIELD_CASES["publication dates"].encode())
    assert row["pub_year"] == 1998 and row["journal"] == "J One"
    (row,) = _fast_rows(FIELD_CASES["mesh headings"].encode())
    assert [(h["descriptor_ui"], h["major_topic"]) for h in row["mesh_headings"]] == [
        ("D000818", True), ("D2", True)
    ]  # fmt: skip
    # A qualifier belongs to the heading before it (the UI-less descriptor's qualifier is lost).
    assert row["mesh_headings"][1]["qualifiers"][0]["name"] == "orphan"
    (row,) = _fast_rows(FIELD_CASES["doi from article ids, else the location"].encode())
    assert row["doi"] == "10.1/eloc"


FALLBACK_CASES = {
    "MathML with a namespace prefix": article(
        article_body="<ArticleTitle>x</ArticleTitle><Abstract><AbstractText>Let "
        '<mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML"><mml:mi>x</mml:mi></mml:math>'
        " be.</AbstractText></Abstract>"
    ),
    "a comment in the record": article("<!-- a note -->"),
    "a comment holding the closing tag": article("<!-- </PubmedArticle> -->"),
    "CDATA": article(article_body="<ArticleTitle><![CDATA[a < b]]></ArticleTitle>"),
    "a processing instruction": article("<?pi data?>"),
    "carriage returns": article().replace("\n", "\r\n"),
    "a tab in an attribute": article(pmid='<PMID Version="\t1">5</PMID>'),
    "no PMID": article(pmid=""),
    "a non-numeric PMID": article(pmid="<PMID>12a</PMID>"),
    "a non-numeric version": article(pmid='<PMID Version="v2">7</PMID>'),
    "two articles": article(article_body="<ArticleTitle>a</ArticleTitle></Article><Article>"),
    "two PMIDs": article(pmid="<PMID>8</PMID><PMID>9</PMID>"),
    "a year in other digits": article(
        article_body="<Journal><JournalIssue><PubDate><Year>\u0662\u0660</Year></PubDate>"
        "</JournalIssue></Journal>"
    ),
    "a month by name": article("<DateRevised><Year>2019</Year><Month>Feb</Month></DateRevised>"),
    "a descriptor with markup": article(
        "<MeshHeadingList><MeshHeading><DescriptorName UI='D1'>A<i>b</i></DescriptorName>"
        "</MeshHeading></MeshHeadingList>"
    ),
    "a descriptor outside a heading": article(
        "<MeshHeadingList><DescriptorName UI='D1'>A</DescriptorName></MeshHeadingList>"
    ),
    "a book": "<PubmedBookArticle><BookDocument><PMID>77</PMID><ArticleTitle>Book</ArticleTitle>"
    "</BookDocument></PubmedBookArticle>\n",
    "a deletion": "<DeleteCitation><PMID>5</PMID><PMID>x</PMID></DeleteCitation>\n",
    "top-level comment": "<!-- between records -->\n",
    "text between records": "stray text\n",
    "an attribute on the record": article().replace("<PubmedArticle>", "<PubmedArticle a='1'>"),
    "a self-closing record": "<PubmedArticle/>\n",
    "a default namespace": article(article_body="<ArticleTitle xmlns='urn:x'>T</ArticleTitle>"),
}


@pytest.mark.parametrize("case", list(FALLBACK_CASES))
def test_records_outside_the_fast_subset_go_through_lxml(case):
    # Surrounded by ordinary records, so the scan must resume correctly after the fallback.
    chunk = article(pmid="<PMID>1</PMID>") + FALLBACK_CASES[case] + article(pmid="<PMID>2</PMID>")
    outcome = assert_same(chunk.encode(), first_line=40)
    assert outcome[0] == "ok", outcome


MALFORMED_CASES = {
    "mismatched tags": article(article_body="<ArticleTitle>x</Title>"),
    "an unknown entity": article(article_body="<ArticleTitle>&nbsp;</ArticleTitle>"),
    "a bare ampersand": article(article_body="<ArticleTitle>a & b</ArticleTitle>"),
    "an invalid character reference": article(article_body="<ArticleTitle>&#0;</ArticleTitle>"),
    "invalid UTF-8": article(article_body="<ArticleTitle>\udcff</ArticleTitle>"),
    "a control character": article(article_body="<ArticleTitle>a\x01</ArticleTitle>"),
    "']]>' in text": article(article_body="<ArticleTitle>a]]>b</ArticleTitle>"),
    "'<' in an attribute": article(article_body="<ArticleTitle a='<'>x</ArticleTitle>"),
    "a repeated attribute": article(article_body="<ArticleTitle a='1' a='2'>x</ArticleTitle>"),
    "an unclosed record": article().replace("</PubmedArticle>", ""),
    "a stray '<' between records": "<\n",
    "an unquoted attribute": article(article_body="<ArticleTitle a=1>x</ArticleTitle>"),
}


@pytest.mark.parametrize("case", list(MALFORMED_CASES))
def test_malformed_records_fail_like_lxml(case):
    chunk = (
        article(pmid="<PMID>1</PMID>") + MALFORMED_CASES[case] + article(pmid="<PMID>2</PMID>")
    ).encode("utf-8", "surrogateescape")
    outcome = assert_same(chunk, first_line=100)
    assert outcome[0] == "error" and outcome[1] >= 100


def _sample_chunks() -> list[tuple[bytes, int]]:
    chunks = []
    for path in [*SAMPLE_FILES, *FIXTURES]:
        chunks.extend(iter_record_chunks(path, path.name, 1 << 16))
    return chunks


def test_sample_and_fixture_files_match():
    chunks = _sample_chunks()
    assert len(chunks) >= 4
    for chunk, line in chunks:
        assert_same(chunk, line)


# What damage() inserts: markup, entities, invalid bytes and characters, record tags.
DAMAGE = [b"<", b">", b"&", b"&amp;", b"\x00", b"\xc2\xa0", b"\xff", b"]]>", b"'", b'"', b"<i>",
          b"</i>", b"<!--x-->", b"\r", b"\t", b" ", b"\n", b"&#65;", b"/", b"&#x10FFFF;",
          b"\xf4\x90\x80\x80", b"\xed\xa0\x80", b"<PubmedArticle>", b"</PubmedArticle>",
          b"<MedlineCitation>", b"<PMID>", b"</PMID>", b"=", b"<a b='c'", b"&#"]  # fmt: skip


def damage(rng: random.Random, data: bytearray) -> bytes:
    """One or two random edits: an insertion from DAMAGE, a deletion, a copy, or a truncation.
    Also used by scripts/fuzz_pubmed_scan.py (the same test, long and under sanitizers)."""
    for _ in range(rng.randint(1, 2)):
        at = rng.randrange(len(data) + 1)
        action = rng.random()
        if action < 0.45:
            data[at:at] = rng.choice(DAMAGE)
        elif action < 0.7:
            del data[at : at + rng.randint(1, 8)]
        elif action < 0.85:
            source = rng.randrange(len(data) + 1)
            data[at:at] = data[source : source + rng.randint(1, 60)]
        else:
            del data[at:]
    return bytes(data)


def test_random_damage_fails_or_parses_alike():
    """Mutations of real-format records: both paths agree on every one (same rows or same line)."""
    rng = random.Random(20261126)
    chunk, line = max(_sample_chunks(), key=lambda item: len(item[0]))
    chunk = chunk[:6000] + chunk[6000:].split(b"</PubmedArticle>", 1)[0] + b"</PubmedArticle>"
    agreed_ok = agreed_error = 0
    for _ in range(400):
        outcome = assert_same(damage(rng, bytearray(chunk)), line)
        agreed_ok += outcome[0] == "ok"
        agreed_error += outcome[0] == "error"
    assert agreed_ok > 20 and agreed_error > 20  # both kinds of outcome were exercised


def test_the_scanner_and_python_share_one_column_list():
    """The scanner exports the order it appends in; it is the Python side's list exactly."""
    scanner = pytest.importorskip("mkailin_assets.ingest._pubmed_scan")
    assert scanner.COLUMNS == SCANNER_COLUMNS
    assert len(CitationColumns().lists()) == len(SCANNER_COLUMNS)


def test_a_scanner_built_for_other_columns_is_refused_loudly(monkeypatch):
    scanner = pytest.importorskip("mkailin_assets.ingest._pubmed_scan")
    swapped = (SCANNER_COLUMNS[1], SCANNER_COLUMNS[0], *SCANNER_COLUMNS[2:])
    monkeypatch.setattr(scanner, "COLUMNS", swapped)
    chunk = FIELD_CASES["mesh headings"].encode()
    with pytest.raises(ScannerMismatchError, match="rebuild it"):
        parse_chunk(chunk, 1, 0, "x.xml")  # no silent fall back to lxml
    monkeypatch.delattr(scanner, "COLUMNS")  # a build from before the contract
    with pytest.raises(ScannerMismatchError, match="unknown columns"):
        check_scanner(scanner)


def test_content_hash_has_one_definition_both_parsers_call(monkeypatch):
    """The lxml parser uses pubmed_columns.content_hash itself; the scanner calls it by name."""
    pytest.importorskip("mkailin_assets.ingest._pubmed_scan")
    from mkailin_assets.ingest import pubmed_columns, pubmed_records

    assert pubmed_records.content_hash is pubmed_columns.content_hash
    chunk = FIELD_CASES["mesh headings"].encode()
    expected = parse_chunk(chunk, 1, 0, "x.xml", fast=False).tables["citations"]
    calls = []

    def recording(title, abstract, uis, majors):
        calls.append((title, abstract, list(uis), list(majors)))
        return "recorded"

    monkeypatch.setattr(pubmed_columns, "content_hash", recording)
    fast = parse_chunk(chunk, 1, 0, "x.xml", fast=True).tables["citations"]
    assert fast.column("content_hash").to_pylist() == ["recorded"]
    citation = expected.to_pylist()[0]
    headings = citation["mesh_headings"]
    assert calls == [
        (
            citation["title"],
            citation["abstract"],
            [h["descriptor_ui"] for h in headings],
            [h["major_topic"] for h in headings],
        )
    ]


def test_the_scanner_can_be_switched_off(monkeypatch):
    from mkailin_assets.ingest import _pubmed_scan, pubmed_batches

    def must_not_run(*args):
        raise AssertionError("the compiled scanner ran although MKAILIN_PUBMED_SCANNER=off")

    chunk = FIELD_CASES["mesh headings"].encode()
    monkeypatch.setattr(_pubmed_scan, "scan_chunk", must_not_run)
    monkeypatch.setenv("MKAILIN_PUBMED_SCANNER", "off")
    assert parse_chunk(chunk, 1, 0, "x.xml").articles_read == 1
    assert pubmed_batches.parser_description(2) == "lxml, 2 worker processes"
    assert pubmed_batches.parser_description(0) == "lxml iterparse"
    monkeypatch.setenv("MKAILIN_PUBMED_SCANNER", "auto")
    assert pubmed_batches.parser_description(2).startswith("compiled scanner with lxml fallback")
    with pytest.raises(AssertionError, match="compiled scanner ran"):
        parse_chunk(chunk, 1, 0, "x.xml")


def test_a_load_reports_the_parser_it_used(tmp_path):
    from mkailin_assets.db import apply_schema, open_connection
    from mkailin_assets.ingest.pubmed_loader import load_pubmed_file

    con = open_connection(tmp_path / "t.duckdb")
    apply_schema(con)
    report = load_pubmed_file(con, SAMPLE_FILES[0], workers=2)
    assert report.parser == "compiled scanner with lxml fallback, 2 worker processes"
    assert report.citations_upserted > 0 and report.reconciles()
    assert set(report.phase_seconds) == {"parse", "apply", "commit"}
    assert 0 <= sum(report.phase_seconds.values()) <= report.seconds
    con.close()
