"""The PubMed record parser: NLM PubMed XML records into Citations, Deletions and quarantine.

This module is the reference parser (lxml). We read what we know and ignore the rest: one
`iterparse` pass over PubmedArticle, PubmedBookArticle and DeleteCitation, clearing each element
(and its preceding siblings) once read, so memory stays bounded whatever the file size. Records
that cannot be keyed (no PMID, a non-numeric PMID) come out as `QuarantinedRecord`s, never
silently dropped. Big files are cut into chunks (`pubmed_chunks`) and parsed in worker
processes (`pubmed_batches`); a chunk's records that the compiled scanner does not read come here.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from lxml import etree

from mkailin_assets.ingest.errors import PubMedFormatError
from mkailin_assets.ingest.pubmed_columns import content_hash

ROOT_TAG = "PubmedArticleSet"
ARTICLE_TAGS = ("PubmedArticle", "PubmedBookArticle")
DELETE_TAG = "DeleteCitation"
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")
_EXCERPT_CHARS = 500
# Big reads: lxml pulls from the Python file object, so fewer calls means less overhead.
_READ_BUFFER = 1 << 20


@dataclass(slots=True)
class Citation:
    """One citation as stored in `citations` (plus its line in the file)."""

    pmid: int
    version: int
    title: str | None
    abstract: str | None
    abstract_sections: list[dict[str, str | None]]
    languages: list[str]
    journal: str | None
    pub_year: int | None
    publication_types: list[str]
    mesh_headings: list[dict[str, Any]]
    keywords: list[str]
    doi: str | None
    date_revised: date | None
    status: str | None
    content_hash: str
    line: int | None = None


@dataclass(slots=True)
class Deletion:
    """A DeleteCitation block: the PMIDs NLM withdrew."""

    pmids: list[int]
    line: int | None = None


@dataclass(slots=True)
class QuarantinedRecord:
    """A record we could not key; kept with its reason and position for the quarantine table."""

    line: int | None
    record_key: str | None
    reason: str
    raw_excerpt: str


ParsedItem = Citation | Deletion | QuarantinedRecord


def open_release_file(path: Path) -> IO[bytes]:
    """Open .xml or .xml.gz by magic number, not by name (NLM files are always gzipped)."""
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes the returned stream
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def normalise_space(text: str) -> str:
    return " ".join(text.split())


def flat_text(element: Any) -> str:
    """Text of an element with inline markup (<b>, <i>, <sub>, <sup>, MathML) flattened."""
    if len(element) == 0:
        text = element.text
        return normalise_space(text) if text else ""
    return normalise_space("".join(element.itertext()))


def _optional_text(element: Any) -> str | None:
    if element is None:
        return None
    text = flat_text(element)
    return text or None


def _year_of(pub_date: Any) -> int | None:
    """PubDate/Year, else the first 4-digit year in MedlineDate (e.g. '1998 Dec-1999 Jan')."""
    if pub_date is None:
        return None
    for child in pub_date:
        if child.tag == "Year" and child.text and child.text.strip().isdigit():
            return int(child.text.strip())
    for child in pub_date:
        if child.tag == "MedlineDate" and child.text:
            match = _YEAR.search(child.text)
            if match:
                return int(match.group(1))
    return None


def _date_of(element: Any) -> date | None:
    if element is None:
        return None
    parts = {child.tag: (child.text or "").strip() for child in element}
    try:
        return date(int(parts["Year"]), int(parts.get("Month") or 1), int(parts.get("Day") or 1))
    except (KeyError, ValueError):
        return None


def _abstract_sections(abstract: Any) -> list[dict[str, str | None]]:
    sections = []
    if abstract is None:
        return sections
    for child in abstract:
        if child.tag != "AbstractText":
            continue
        text = flat_text(child)
        label = child.get("Label")
        category = child.get("NlmCategory")
        if text or label:
            sections.append({"label": label, "nlm_category": category, "text": text})
    return sections


def _abstract_text(sections: list[dict[str, str | None]]) -> str | None:
    """Sections joined one per line, each prefixed by its Label (or NlmCategory) when it has one."""
    lines = []
    for section in sections:
        label = section["label"] or (
            section["nlm_category"] if section["nlm_category"] not in (None, "UNASSIGNED") else None
        )
        text = section["text"] or ""
        lines.append(f"{label}: {text}" if label else text)
    joined = "\n".join(line for line in lines if line)
    return joined or None


def _plain_text(element: Any) -> str:
    """Names (MeSH, publication types) carry no markup: take .text, fall back to flattening."""
    text = element.text
    if len(element) == 0 and text is not None and "\n" not in text and text == text.strip():
        return text
    return flat_text(element)


def _mesh_headings(heading_list: Any) -> list[dict[str, Any]]:
    """Descriptor UI, name, qualifiers; a heading is major if it or any qualifier is major.

    Hot path (~10 headings per citation): one C-level iter() over the names, in document
    order, instead of a find() per heading; a QualifierName belongs to the heading before it."""
    headings: list[dict[str, Any]] = []
    if heading_list is None:
        return headings
    current: dict[str, Any] | None = None
    for part in heading_list.iter("DescriptorName", "QualifierName"):
        major = part.get("MajorTopicYN") == "Y"
        if part.tag == "DescriptorName":
            ui = part.get("UI")
            if ui is None:
                current = None
                continue
            # Names carry no markup: .text unless the element unexpectedly has children.
            name = part.text if len(part) == 0 else flat_text(part)
            current = {"descriptor_ui": ui, "name": name, "major_topic": major, "qualifiers": []}
            headings.append(current)
        elif current is not None:
            current["qualifiers"].append(
                {
                    "ui": part.get("UI"),
                    "name": part.text if len(part) == 0 else flat_text(part),
                    "major_topic": major,
                }
            )
            if major:
                current["major_topic"] = True
    return headings


def _excerpt(element: Any) -> str:
    return etree.tostring(element, encoding="unicode", with_tail=False)[:_EXCERPT_CHARS]


def _doi_from_ids(article_id_list: Any) -> str | None:
    if article_id_list is None:
        return None
    for article_id in article_id_list:
        if article_id.get("IdType") == "doi" and article_id.text:
            return article_id.text.strip()
    return None


def _parse_pmid(pmid_element: Any) -> tuple[int | None, str | None]:
    if pmid_element is None:
        return None, None
    raw = (pmid_element.text or "").strip()
    return (int(raw) if raw.isdigit() else None), raw


def _parse_version(pmid_element: Any) -> int:
    raw = (pmid_element.get("Version") or "1").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


_CITATION_PARTS = ("Article", "MeshHeadingList", "KeywordList", "DateRevised")
_ARTICLE_PARTS = (
    "ArticleTitle", "Abstract", "Language", "Journal", "PublicationTypeList", "ELocationID"
)  # fmt: skip


def _keyed(element: Any, body_tag: str) -> tuple[Any, Any, int] | QuarantinedRecord:
    """(body, PMID element, PMID) of a record, or why it cannot be keyed."""
    body = element.find(body_tag)
    if body is None:
        return QuarantinedRecord(element.sourceline, None, f"no {body_tag}", _excerpt(element))
    pmid_element = body.find("PMID")
    pmid, raw_pmid = _parse_pmid(pmid_element)
    if pmid is None:
        reason = "no PMID" if pmid_element is None else f"non-numeric PMID {raw_pmid!r}"
        return QuarantinedRecord(element.sourceline, raw_pmid, reason, _excerpt(element))
    return body, pmid_element, pmid


def parse_pubmed_article(element: Any) -> Citation | QuarantinedRecord:
    """One PubmedArticle: walk MedlineCitation's children once, dispatching on tag."""
    keyed = _keyed(element, "MedlineCitation")
    if isinstance(keyed, QuarantinedRecord):
        return keyed
    citation, pmid_element, pmid = keyed

    title = abstract_element = journal = pub_year = doi = None
    languages: list[str] = []
    publication_types: list[str] = []
    keywords: list[str] = []
    mesh: list[dict[str, Any]] = []
    date_revised = None
    # Tag-filtered iteration: libxml2 skips the children we never read without making proxies.
    for child in citation.iterchildren(*_CITATION_PARTS):
        tag = child.tag
        if tag == "Article":
            for part in child.iterchildren(*_ARTICLE_PARTS):
                ptag = part.tag
                if ptag == "ArticleTitle":
                    title = _optional_text(part)
                elif ptag == "Abstract":
                    abstract_element = part
                elif ptag == "Language":
                    if part.text:
                        languages.append(part.text.strip())
                elif ptag == "Journal":
                    journal = _optional_text(part.find("Title"))
                    pub_year = _year_of(part.find("JournalIssue/PubDate"))
                elif ptag == "PublicationTypeList":
                    publication_types = [_plain_text(p) for p in part]
                elif (
                    ptag == "ELocationID"
                    and doi is None
                    and part.get("EIdType") == "doi"
                    and part.text
                ):
                    doi = part.text.strip()
        elif tag == "MeshHeadingList":
            mesh = _mesh_headings(child)
        elif tag == "KeywordList":
            keywords.extend(text for text in (flat_text(k) for k in child) if text)
        elif tag == "DateRevised":
            date_revised = _date_of(child)
    pubmed_data = element.find("PubmedData")
    if pubmed_data is not None:
        doi = _doi_from_ids(pubmed_data.find("ArticleIdList")) or doi

    sections = _abstract_sections(abstract_element)
    abstract = _abstract_text(sections)
    return Citation(
        pmid=pmid,
        version=_parse_version(pmid_element),
        title=title,
        abstract=abstract,
        abstract_sections=sections,
        languages=languages,
        journal=journal,
        pub_year=pub_year,
        publication_types=publication_types,
        mesh_headings=mesh,
        keywords=keywords,
        doi=doi,
        date_revised=date_revised,
        status=citation.get("Status"),
        content_hash=content_hash(
            title,
            abstract,
            [heading["descriptor_ui"] for heading in mesh],
            [heading["major_topic"] for heading in mesh],
        ),
        line=element.sourceline,
    )


def parse_book_article(element: Any) -> Citation | QuarantinedRecord:
    """One PubmedBookArticle: title is the chapter's ArticleTitle, else the BookTitle."""
    keyed = _keyed(element, "BookDocument")
    if isinstance(keyed, QuarantinedRecord):
        return keyed
    document, pmid_element, pmid = keyed
    book = document.find("Book")
    title = _optional_text(document.find("ArticleTitle"))
    if title is None and book is not None:
        title = _optional_text(book.find("BookTitle"))
    sections = _abstract_sections(document.find("Abstract"))
    abstract = _abstract_text(sections)
    mesh: list[dict[str, Any]] = []
    keywords = [
        text for kl in document.iter("KeywordList") for text in (flat_text(k) for k in kl) if text
    ]
    doi = None
    book_data = element.find("PubmedBookData")
    if book_data is not None:
        doi = _doi_from_ids(book_data.find("ArticleIdList"))
    if doi is None:
        doi = _doi_from_ids(document.find("ArticleIdList"))
    return Citation(
        pmid=pmid,
        version=_parse_version(pmid_element),
        title=title,
        abstract=abstract,
        abstract_sections=sections,
        languages=[lang.text.strip() for lang in document.findall("Language") if lang.text],
        journal=None,
        pub_year=_year_of(book.find("PubDate")) if book is not None else None,
        publication_types=[flat_text(p) for p in document.findall("PublicationType")],
        mesh_headings=mesh,
        keywords=keywords,
        doi=doi,
        date_revised=_date_of(document.find("DateRevised")),
        status=None,
        content_hash=content_hash(title, abstract, (), ()),
        line=element.sourceline,
    )


def parse_delete_citation(element: Any) -> list[Deletion | QuarantinedRecord]:
    items: list[Deletion | QuarantinedRecord] = []
    pmids = []
    for pmid_element in element.iter("PMID"):
        pmid, raw = _parse_pmid(pmid_element)
        if pmid is None:
            items.append(
                QuarantinedRecord(
                    pmid_element.sourceline,
                    raw,
                    f"DeleteCitation: non-numeric PMID {raw!r}",
                    _excerpt(pmid_element),
                )
            )
        else:
            pmids.append(pmid)
    items.append(Deletion(pmids, element.sourceline))
    return items


def check_root(path: Path, name: str) -> None:
    """Read just the first start tag: refuse non-PubMed XML before parsing a byte more."""
    try:
        with open_release_file(path) as stream:
            for _, element in etree.iterparse(stream, events=("start",), resolve_entities=False):
                if element.tag != ROOT_TAG:
                    raise PubMedFormatError(
                        name,
                        f"not a PubMed XML file: root element is <{element.tag}>, expected <{ROOT_TAG}>",
                        element.sourceline,
                    )
                return
    except etree.XMLSyntaxError as error:
        raise PubMedFormatError(name, syntax_reason(error), error_line(error)) from error
    except (EOFError, OSError, zlib.error) as error:
        raise PubMedFormatError(
            name, f"unreadable (corrupt or truncated gzip?): {error}"
        ) from error
    raise PubMedFormatError(name, "empty file: no XML element found")


def syntax_reason(error: etree.XMLSyntaxError) -> str:
    message = error.msg or str(error)
    if "Document is empty" in message or "no element found" in message:
        return f"empty file or not XML: {message}"
    return f"malformed XML: {message}"


def error_line(error: etree.XMLSyntaxError) -> int | None:
    return error.lineno if getattr(error, "lineno", None) else None


def iter_pubmed_file(path: str | Path, *, file_name: str | None = None) -> Iterator[ParsedItem]:
    """Yield Citations, Deletions and QuarantinedRecords in file order.

    Raises PubMedFormatError (naming the file and line) for a truncated or corrupt gzip,
    malformed XML, an empty file, or a root element other than PubmedArticleSet."""
    path = Path(path)
    name = file_name or path.name
    check_root(path, name)
    last_line: int | None = None
    try:
        with open_release_file(path) as raw_stream:
            stream = _BufferedStream(raw_stream)
            context = etree.iterparse(
                stream,
                events=("end",),
                tag=(*ARTICLE_TAGS, DELETE_TAG),
                huge_tree=True,
                resolve_entities=False,
                no_network=True,
            )
            for _, element in context:
                last_line = element.sourceline
                tag = element.tag
                if tag == "PubmedArticle":
                    yield parse_pubmed_article(element)
                elif tag == "PubmedBookArticle":
                    yield parse_book_article(element)
                else:
                    yield from parse_delete_citation(element)
                # Free what we have read: the element's content and every earlier sibling.
                element.clear(keep_tail=True)
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as error:
        raise PubMedFormatError(
            name, syntax_reason(error), error_line(error) or last_line
        ) from error
    except (EOFError, OSError, zlib.error) as error:
        where = f" after the record at line {last_line}" if last_line else ""
        raise PubMedFormatError(
            name, f"unreadable (corrupt or truncated gzip?){where}: {error}", last_line
        ) from error


class _BufferedStream:
    """Hands lxml large chunks whatever size it asks for (fewer Python-level read calls)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(max(size, _READ_BUFFER) if size and size > 0 else size)


def parse_pubmed_file(path: str | Path) -> list[ParsedItem]:
    """Whole-file convenience for tests and small files; loaders should stream instead."""
    return list(iter_pubmed_file(path))
