#!/usr/bin/env python
"""Write the project's sample data (data/sample/) deterministically.

    .venv/bin/python scripts/build_sample.py [OUT_DIR] [--mesh-tree PATH]

Writes, under OUT_DIR (default: data/sample):
  pubmed/baseline/pubmed00n0001.xml.gz (+ .md5), pubmed/baseline/pubmed00n0002.xml.gz (+ .md5),
  pubmed/updatefiles/pubmed00n0003.xml.gz (+ .md5)  -- NLM PubmedArticleSet XML, fictitious records
  mesh/desc_sample.xml  -- NLM descriptor XML: the MeSH 2024 descriptors the citations use, closed
                           under parents, read from the reduced MeSH 2024 tree (../shared/data/mesh/
                           mesh2024-trees.xml.gz). Without that file the MeSH sample is not written.

The citations live in data/sample/source/citations.yaml (records, not code). Their headings and
publication types name MeSH descriptors; the UIs are looked up by name in the committed MeSH sample
(the full tree, when present, also knows descriptors the sample does not hold yet), and an unknown
name stops the script. Output bytes depend only on that file, the MeSH files and this script: gzip
members carry mtime 0 and no file name.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "data" / "sample"
CITATIONS_FILE = DEFAULT_OUT_DIR / "source" / "citations.yaml"
SAMPLE_MESH = DEFAULT_OUT_DIR / "mesh" / "desc_sample.xml"
DEFAULT_MESH_TREE = REPO_ROOT.parent / "shared" / "data" / "mesh" / "mesh2024-trees.xml.gz"

PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)
MESH_DOCTYPE = (
    "<!DOCTYPE DescriptorRecordSet SYSTEM "
    '"https://www.nlm.nih.gov/databases/dtd/nlmdescriptorrecordset_20240101.dtd">'
)
DOI_PREFIX = "10.5555/mkailin-sample."  # 10.5555 is the DOI test prefix: never a real article
MESH_YEAR = 2024  # the vocabulary of ../shared/data/mesh/mesh2024-trees.xml.gz
CHECK_TAGS = {"D008297": "Male", "D005260": "Female"}  # check tags: no tree numbers
NLM_CATEGORIES = {
    "BACKGROUND": "BACKGROUND",
    "OBJECTIVE": "OBJECTIVE",
    "AIMS": "OBJECTIVE",
    "METHODS": "METHODS",
    "RESULTS": "RESULTS",
    "CONCLUSIONS": "CONCLUSIONS",
}
BOOK_PUBLICATION_TYPE = "Review"  # what NLM gives book chapters
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ---------------------------------------------------------------------------------------------
# The citations file
# ---------------------------------------------------------------------------------------------
Sections = tuple[tuple[str, str], ...]
Author = tuple[str, str]


@dataclass(frozen=True)
class SampleCitation:
    pmid: int
    title: str
    journal: str  # key of the file's journals
    year: int | str  # an int is PubDate/Year; a str is written as MedlineDate ("2023 Jan-Feb")
    abstract: Sections | str | None = None
    mesh: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ("Journal Article",)
    status: str = "MEDLINE"
    version: int = 1
    authors: tuple[Author, ...] = ()  # empty = drawn from the author pool
    date_revised: tuple[int, int, int] | None = None  # None = derived from the PMID


@dataclass(frozen=True)
class Journal:
    title: str
    iso_abbreviation: str
    issn: str
    nlm_unique_id: str
    country: str


@dataclass(frozen=True)
class SampleBook:
    """A PubmedBookArticle (a chapter of an online book): no MeSH, no MedlineCitation."""

    pmid: int
    book_title: str
    chapter_title: str
    publisher: str
    publisher_location: str
    year: int
    accession: str
    abstract: str
    authors: tuple[Author, ...] = ()


@dataclass(frozen=True)
class ReleaseFile:
    path: str  # relative to the output folder
    citations: tuple[SampleCitation, ...]
    books: tuple[SampleBook, ...] = ()
    deleted_pmids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Sample:
    journals: dict[str, Journal]
    author_pool: tuple[Author, ...]
    qualifier_uis: dict[str, str]
    release_files: tuple[ReleaseFile, ...] = field(default=())


def _pairs(rows: list[list[str]]) -> tuple[Author, ...]:
    return tuple((last, fore) for last, fore in rows)


def _citation(record: dict[str, Any]) -> SampleCitation:
    fields = dict(record)
    abstract = fields.get("abstract")
    if isinstance(abstract, dict):  # section label -> text, in the file's order
        fields["abstract"] = tuple(abstract.items())
    for name in ("mesh", "keywords", "publication_types"):
        if name in fields:
            fields[name] = tuple(fields[name])
    if "authors" in fields:
        fields["authors"] = _pairs(fields["authors"])
    if "date_revised" in fields:
        fields["date_revised"] = tuple(fields["date_revised"])
    return SampleCitation(**fields)


def _release_file(entry: dict[str, Any]) -> ReleaseFile:
    return ReleaseFile(
        path=entry["path"],
        citations=tuple(_citation(c) for c in entry.get("citations", [])),
        books=tuple(
            SampleBook(**{**b, "authors": _pairs(b.get("authors", []))})
            for b in entry.get("books", [])
        ),
        deleted_pmids=tuple(entry.get("deleted_pmids", [])),
    )


@cache
def load_sample(path: Path = CITATIONS_FILE) -> Sample:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Sample(
        journals={key: Journal(**value) for key, value in data["journals"].items()},
        author_pool=_pairs(data["author_pool"]),
        qualifier_uis=dict(data["qualifier_uis"]),
        release_files=tuple(_release_file(entry) for entry in data["release_files"]),
    )


# ---------------------------------------------------------------------------------------------
# MeSH headings in NLM's display notation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Heading:
    descriptor: str
    descriptor_major: bool
    qualifiers: tuple[tuple[str, bool], ...]


def parse_heading(notation: str) -> Heading:
    """'Liver/metabolism*' -> descriptor Liver, qualifier metabolism (major)."""
    descriptor, *qualifiers = notation.split("/")
    return Heading(
        descriptor=descriptor.rstrip("*"),
        descriptor_major=descriptor.endswith("*"),
        qualifiers=tuple((q.rstrip("*"), q.endswith("*")) for q in qualifiers),
    )


def used_descriptor_names(sample: Sample) -> set[str]:
    """Every descriptor the sample names: headings and publication types (MeSH's V tree)."""
    citations = [c for release in sample.release_files for c in release.citations]
    headings = {parse_heading(h).descriptor for c in citations for h in c.mesh}
    publication_types = {t for c in citations for t in c.publication_types}
    books = {BOOK_PUBLICATION_TYPE} if any(r.books for r in sample.release_files) else set()
    return headings | publication_types | books


# ---------------------------------------------------------------------------------------------
# PubMed XML
# ---------------------------------------------------------------------------------------------
def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def sub_markup(parent: etree._Element, tag: str, fragment: str, **attrs: str) -> etree._Element:
    """A child whose text may hold inline markup (<i>, <sup>, <sub>) written as an XML fragment."""
    element = etree.fromstring(f"<{tag}>{fragment}</{tag}>")
    element.attrib.update(attrs)
    parent.append(element)
    return element


def sub_date(parent: etree._Element, tag: str, year: int, month: int, day: int) -> None:
    date = sub(parent, tag)
    sub(date, "Year", str(year))
    sub(date, "Month", f"{month:02d}")
    sub(date, "Day", f"{day:02d}")


def pub_year(citation: SampleCitation) -> int:
    return citation.year if isinstance(citation.year, int) else int(citation.year[:4])


def month_day(pmid: int) -> tuple[int, int]:
    """A stable, PMID-derived month and day, so invented dates never change between runs."""
    return pmid % 12 + 1, pmid % 27 + 1


def initials(fore_name: str) -> str:
    return "".join(part[0] for part in fore_name.split())


def authors_of(citation: SampleCitation, pool: tuple[Author, ...]) -> tuple[Author, ...]:
    if citation.authors:
        return citation.authors
    count = 3 + citation.pmid % 4
    start = (citation.pmid * 7) % len(pool)
    return tuple(pool[(start + 5 * i) % len(pool)] for i in range(count))


def add_author_list(parent: etree._Element, authors: Iterable[tuple[str, str]], **attrs: str):
    author_list = sub(parent, "AuthorList", CompleteYN="Y", **attrs)
    for last_name, fore_name in authors:
        author = sub(author_list, "Author", ValidYN="Y")
        sub(author, "LastName", last_name)
        sub(author, "ForeName", fore_name)
        sub(author, "Initials", initials(fore_name))


def add_abstract(parent: etree._Element, abstract: Sections | str) -> None:
    element = sub(parent, "Abstract")
    if isinstance(abstract, str):
        sub_markup(element, "AbstractText", abstract)
        return
    for label, text in abstract:
        sub_markup(element, "AbstractText", text, Label=label, NlmCategory=NLM_CATEGORIES[label])


def add_journal(article: etree._Element, citation: SampleCitation, journal: Journal) -> None:
    element = sub(article, "Journal")
    sub(element, "ISSN", journal.issn, IssnType="Electronic")
    issue = sub(element, "JournalIssue", CitedMedium="Internet")
    sub(issue, "Volume", str(pub_year(citation) - 2000 + citation.pmid % 5))
    sub(issue, "Issue", str(citation.pmid % 12 + 1))
    pub_date = sub(issue, "PubDate")
    if isinstance(citation.year, int):
        sub(pub_date, "Year", str(citation.year))
        sub(pub_date, "Month", MONTHS[month_day(citation.pmid)[0] - 1])
    else:
        sub(pub_date, "MedlineDate", citation.year)
    sub(element, "Title", journal.title)
    sub(element, "ISOAbbreviation", journal.iso_abbreviation)


def add_mesh_headings(
    parent: etree._Element, notations: Iterable[str], vocabulary: Vocabulary
) -> None:
    heading_list = sub(parent, "MeshHeadingList")
    for notation in notations:
        heading = parse_heading(notation)
        element = sub(heading_list, "MeshHeading")
        attrs = {"UI": vocabulary.descriptor_ui(heading.descriptor)}
        attrs["MajorTopicYN"] = "Y" if heading.descriptor_major else "N"
        if vocabulary.is_geographic(heading.descriptor):
            attrs["Type"] = "Geographic"
        sub(element, "DescriptorName", heading.descriptor, **attrs)
        for qualifier, major in heading.qualifiers:
            sub(
                element,
                "QualifierName",
                qualifier,
                UI=vocabulary.qualifier_ui(qualifier),
                MajorTopicYN="Y" if major else "N",
            )


def add_history(parent: etree._Element, year: int, pmid: int, indexed: bool) -> None:
    history = sub(parent, "History")
    month, day = month_day(pmid)
    for status in ("entrez", "pubmed", "medline") if indexed else ("entrez", "pubmed"):
        date = sub(history, "PubMedPubDate", PubStatus=status)
        sub(date, "Year", str(year))
        sub(date, "Month", str(month))
        sub(date, "Day", str(day))
        sub(date, "Hour", "6" if status != "medline" else "0")
        sub(date, "Minute", "0" if status != "medline" else "1")


def pubmed_article(
    citation: SampleCitation, sample: Sample, vocabulary: Vocabulary
) -> etree._Element:
    year = pub_year(citation)
    month, day = month_day(citation.pmid)
    indexed = citation.status == "MEDLINE"
    root = etree.Element("PubmedArticle")
    medline = sub(root, "MedlineCitation", Status=citation.status, Owner="NLM")
    sub(medline, "PMID", str(citation.pmid), Version=str(citation.version))
    if indexed:
        sub_date(medline, "DateCompleted", year, month, day)
    sub_date(medline, "DateRevised", *(citation.date_revised or (year + 1, month, day)))

    article = sub(medline, "Article", PubModel="Print-Electronic")
    journal = sample.journals[citation.journal]
    add_journal(article, citation, journal)
    sub_markup(article, "ArticleTitle", citation.title)
    doi = f"{DOI_PREFIX}{citation.pmid}"
    sub(article, "ELocationID", doi, EIdType="doi", ValidYN="Y")
    if citation.abstract is not None:
        add_abstract(article, citation.abstract)
    add_author_list(article, authors_of(citation, sample.author_pool))
    sub(article, "Language", "eng")
    types = sub(article, "PublicationTypeList")
    for name in citation.publication_types:
        sub(types, "PublicationType", name, UI=vocabulary.descriptor_ui(name))

    info = sub(medline, "MedlineJournalInfo")
    sub(info, "Country", journal.country)
    sub(info, "MedlineTA", journal.iso_abbreviation)
    sub(info, "NlmUniqueID", journal.nlm_unique_id)
    sub(info, "ISSNLinking", journal.issn)
    if indexed:
        sub(medline, "CitationSubset", "IM")
    if citation.mesh:
        add_mesh_headings(medline, citation.mesh, vocabulary)
    if citation.keywords:
        keywords = sub(medline, "KeywordList", Owner="NOTNLM")
        for keyword in citation.keywords:
            sub(keywords, "Keyword", keyword, MajorTopicYN="N")

    pubmed_data = sub(root, "PubmedData")
    add_history(pubmed_data, year, citation.pmid, indexed)
    sub(pubmed_data, "PublicationStatus", "ppublish")
    ids = sub(pubmed_data, "ArticleIdList")
    sub(ids, "ArticleId", str(citation.pmid), IdType="pubmed")
    sub(ids, "ArticleId", doi, IdType="doi")
    return root


def pubmed_book_article(book: SampleBook, vocabulary: Vocabulary) -> etree._Element:
    """A PubmedBookArticle in the element order of NLM's pubmed_250101.dtd."""
    root = etree.Element("PubmedBookArticle")
    document = sub(root, "BookDocument")
    sub(document, "PMID", str(book.pmid), Version="1")
    ids = sub(document, "ArticleIdList")
    sub(ids, "ArticleId", book.accession, IdType="bookaccession")
    book_element = sub(document, "Book")
    publisher = sub(book_element, "Publisher")
    sub(publisher, "PublisherName", book.publisher)
    sub(publisher, "PublisherLocation", book.publisher_location)
    sub(book_element, "BookTitle", book.book_title, book=book.accession)
    sub(sub(book_element, "PubDate"), "Year", str(book.year))
    sub(book_element, "Medium", "Internet")
    sub(document, "LocationLabel", book.chapter_title, Type="chapter")
    sub(document, "ArticleTitle", book.chapter_title, book=book.accession, part="article-1")
    sub(document, "Language", "eng")
    add_author_list(document, book.authors, Type="authors")
    ui = vocabulary.descriptor_ui(BOOK_PUBLICATION_TYPE)
    sub(document, "PublicationType", BOOK_PUBLICATION_TYPE, UI=ui)
    sub_markup(sub(document, "Abstract"), "AbstractText", book.abstract)
    sub_date(document, "ContributionDate", book.year, 3, 1)
    sub_date(document, "DateRevised", book.year + 1, 5, 2)

    book_data = sub(root, "PubmedBookData")
    add_history(book_data, book.year, book.pmid, indexed=False)
    sub(book_data, "PublicationStatus", "ppublish")
    sub(sub(book_data, "ArticleIdList"), "ArticleId", str(book.pmid), IdType="pubmed")
    return root


def article_set_xml(articles: Iterable[etree._Element], deleted_pmids: Iterable[int] = ()) -> bytes:
    root = etree.Element("PubmedArticleSet")
    root.extend(articles)
    deleted = list(deleted_pmids)
    if deleted:
        delete_block = sub(root, "DeleteCitation")
        for pmid in deleted:
            sub(delete_block, "PMID", str(pmid), Version="1")
    body = etree.tostring(root, encoding="unicode", pretty_print=True)
    return f'<?xml version="1.0" encoding="utf-8"?>\n{PUBMED_DOCTYPE}\n{body}'.encode()


def release_files(sample: Sample, vocabulary: Vocabulary) -> Iterator[tuple[str, bytes]]:
    """(relative path, uncompressed XML) of each PubMed release file of the sample."""
    for release in sample.release_files:
        articles = [pubmed_article(c, sample, vocabulary) for c in release.citations]
        articles += [pubmed_book_article(b, vocabulary) for b in release.books]
        yield release.path, article_set_xml(articles, release.deleted_pmids)


def write_release_file(path: Path, xml: bytes) -> None:
    """The .xml.gz (mtime 0, no stored name: reproducible) and its NLM-style .md5 beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    compressed = gzip.compress(xml, compresslevel=9, mtime=0)
    path.write_bytes(compressed)
    digest = hashlib.md5(compressed).hexdigest()
    path.with_name(path.name + ".md5").write_text(f"MD5({path.name})= {digest}\n", encoding="ascii")


# ---------------------------------------------------------------------------------------------
# MeSH sample
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Descriptor:
    ui: str
    name: str
    tree_numbers: tuple[str, ...]


def read_mesh_tree(path: Path) -> dict[str, Descriptor]:
    """Every descriptor of the reduced MeSH 2024 file, by UI (streamed: the file is large)."""
    descriptors: dict[str, Descriptor] = {}
    with gzip.open(path) if path.suffix == ".gz" else path.open("rb") as stream:
        for _, record in etree.iterparse(stream, tag="DescriptorRecord"):
            ui = record.findtext("DescriptorUI")
            descriptors[ui] = Descriptor(
                ui=ui,
                name=record.findtext("DescriptorName/String"),
                tree_numbers=tuple(t.text for t in record.iter("TreeNumber")),
            )
            record.clear()
    return descriptors


def by_name(descriptors: dict[str, Descriptor]) -> dict[str, Descriptor]:
    return {d.name: d for d in descriptors.values()}


@dataclass(frozen=True)
class Vocabulary:
    """MeSH names to UIs: descriptors from the MeSH files, qualifiers from the citations file."""

    descriptors: dict[str, Descriptor]  # by name
    qualifier_uis: dict[str, str]

    def descriptor_ui(self, name: str) -> str:
        return self.descriptors[name].ui

    def qualifier_ui(self, name: str) -> str:
        return self.qualifier_uis[name]

    def is_geographic(self, name: str) -> bool:
        """NLM marks headings of the Z tree (geographic locations) with Type="Geographic"."""
        tree_numbers = self.descriptors[name].tree_numbers
        return bool(tree_numbers) and all(t.startswith("Z") for t in tree_numbers)

    def check(self, sample: Sample) -> None:
        """Stop, naming them, on descriptor or qualifier names the vocabulary does not know."""
        notations = [h for r in sample.release_files for c in r.citations for h in c.mesh]
        qualifiers = {q for h in notations for q, _ in parse_heading(h).qualifiers}
        unknown = sorted(used_descriptor_names(sample) - self.descriptors.keys())
        unknown += sorted(f"qualifier {q}" for q in qualifiers - self.qualifier_uis.keys())
        if unknown:
            raise SystemExit(f"unknown MeSH names in the sample citations: {unknown}")


def vocabulary_of(
    sample: Sample, mesh_sample: dict[str, Descriptor], tree: dict[str, Descriptor] | None
) -> Vocabulary:
    """Descriptors by name from the committed MeSH sample; the full tree, when given, adds the
    names the sample does not hold yet (a new heading), so that it can be added."""
    descriptors = by_name(mesh_sample)
    for name, descriptor in by_name(tree or {}).items():
        descriptors.setdefault(name, descriptor)
    return Vocabulary(descriptors, sample.qualifier_uis)


def parent_tree_numbers(tree_number: str) -> Iterator[str]:
    parts = tree_number.split(".")
    for depth in range(1, len(parts)):
        yield ".".join(parts[:depth])


def closed_under_parents(seed_uis: set[str], mesh: dict[str, Descriptor]) -> list[Descriptor]:
    """The seed descriptors plus every ancestor of any of their tree numbers, to a fixpoint."""
    by_tree_number = {t: d.ui for d in mesh.values() for t in d.tree_numbers}
    selected: set[str] = set()
    pending = list(seed_uis)
    while pending:
        ui = pending.pop()
        if ui in selected:
            continue
        selected.add(ui)
        for tree_number in mesh[ui].tree_numbers:
            pending.extend(by_tree_number[p] for p in parent_tree_numbers(tree_number))
    return sorted((mesh[ui] for ui in selected), key=lambda d: d.ui)


def descriptor_class(descriptor: Descriptor) -> str:
    """NLM classes: 1 topical, 2 publication type, 3 check tag, 4 geographic."""
    if not descriptor.tree_numbers:
        return "3"
    letters = {t[0] for t in descriptor.tree_numbers}
    return {"V": "2", "Z": "4"}.get(letters.pop(), "1") if len(letters) == 1 else "1"


def mesh_sample_xml(descriptors: list[Descriptor]) -> bytes:
    root = etree.Element("DescriptorRecordSet", LanguageCode="eng")
    for descriptor in descriptors:
        record = sub(root, "DescriptorRecord", DescriptorClass=descriptor_class(descriptor))
        sub(record, "DescriptorUI", descriptor.ui)
        sub(sub(record, "DescriptorName"), "String", descriptor.name)
        # The reduced 2024 tree carries no dates: this DateCreated is a placeholder, not NLM's.
        # It is the vocabulary's year, because readers infer the MeSH year from the latest date
        # when the file name (desc_sample.xml) carries none.
        sub_date(record, "DateCreated", MESH_YEAR, 1, 1)
        if descriptor.tree_numbers:
            tree_list = sub(record, "TreeNumberList")
            for tree_number in descriptor.tree_numbers:
                sub(tree_list, "TreeNumber", tree_number)
    body = etree.tostring(root, encoding="unicode", pretty_print=True)
    comment = (
        "<!-- mkailin sample: MeSH 2024 descriptors (NLM, desc2024) used by the sample citations "
        "and all their ancestors; UIs, names and tree numbers are NLM's, DateCreated is a "
        "placeholder (the vocabulary year). -->"
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{MESH_DOCTYPE}\n{comment}\n{body}'.encode()


def build_mesh_sample(sample: Sample, vocabulary: Vocabulary, mesh: dict[str, Descriptor]) -> bytes:
    used = {vocabulary.descriptor_ui(name) for name in used_descriptor_names(sample)}
    seeds = used - CHECK_TAGS.keys()
    unknown = seeds - mesh.keys()
    if unknown:
        raise SystemExit(f"descriptor UIs not in the MeSH tree: {sorted(unknown)}")
    descriptors = closed_under_parents(seeds, mesh)
    check_tags = [Descriptor(ui, name, ()) for ui, name in CHECK_TAGS.items()]
    return mesh_sample_xml(sorted(descriptors + check_tags, key=lambda d: d.ui))


# ---------------------------------------------------------------------------------------------
def build(
    out_dir: Path,
    mesh_tree: Path = DEFAULT_MESH_TREE,
    citations: Path = CITATIONS_FILE,
    mesh_sample: Path = SAMPLE_MESH,
) -> list[Path]:
    """Write the sample under out_dir; return the paths written. The MeSH file needs mesh_tree."""
    sample = load_sample(citations)
    tree = read_mesh_tree(mesh_tree) if mesh_tree.exists() else None
    vocabulary = vocabulary_of(sample, read_mesh_tree(mesh_sample), tree)
    vocabulary.check(sample)
    written: list[Path] = []
    for relative, xml in release_files(sample, vocabulary):
        path = out_dir / relative
        write_release_file(path, xml)
        written += [path, path.with_name(path.name + ".md5")]
    if tree is not None:
        path = out_dir / "mesh" / "desc_sample.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build_mesh_sample(sample, vocabulary, tree))
        written.append(path)
    else:
        print(
            f"MeSH 2024 tree not found at {mesh_tree}: desc_sample.xml not written", file=sys.stderr
        )
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--mesh-tree", type=Path, default=DEFAULT_MESH_TREE)
    parser.add_argument("--citations", type=Path, default=CITATIONS_FILE)
    parser.add_argument(
        "--mesh-sample", type=Path, default=SAMPLE_MESH, help="MeSH file naming the descriptors"
    )
    args = parser.parse_args(argv)
    for path in build(args.out_dir, args.mesh_tree, args.citations, args.mesh_sample):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
