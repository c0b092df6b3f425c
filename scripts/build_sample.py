#!/usr/bin/env python
"""Write the project's sample data (data/sample/) deterministically.

    .venv/bin/python scripts/build_sample.py [OUT_DIR] [--mesh-tree PATH]

Writes, under OUT_DIR (default: data/sample):
  pubmed/baseline/pubmed26n0001.xml.gz (+ .md5), pubmed/baseline/pubmed26n0002.xml.gz (+ .md5),
  pubmed/updatefiles/pubmed26n0003.xml.gz (+ .md5)  -- NLM PubmedArticleSet XML, fictitious records
  mesh/desc_sample.xml  -- NLM descriptor XML: the MeSH 2024 descriptors the citations use, closed
                           under parents, read from the reduced MeSH 2024 tree (../shared/data/mesh/
                           mesh2024-trees.xml.gz). Without that file the MeSH sample is not written.

The citations themselves live in scripts/sample_citations.py. Output bytes depend only on that file,
the MeSH tree and this script: gzip members carry mtime 0 and no file name.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sample_citations as sc  # noqa: E402  (a data module beside this script)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "data" / "sample"
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
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


def all_citations() -> tuple[sc.SampleCitation, ...]:
    return (
        sc.BASELINE_1
        + sc.BASELINE_1_SPECIAL
        + sc.BASELINE_2
        + sc.BASELINE_2_SPECIAL
        + sc.UPDATE_REVISED
        + sc.UPDATE_NEW
    )


def used_descriptor_uis() -> set[str]:
    """UIs of every descriptor the sample uses: headings and publication types (MeSH's V tree)."""
    headings = {parse_heading(h).descriptor for c in all_citations() for h in c.mesh}
    publication_types = {t for c in all_citations() for t in c.publication_types} | {"Review"}
    return {sc.DESCRIPTOR_UIS[name] for name in headings | publication_types}


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


def pub_year(citation: sc.SampleCitation) -> int:
    return citation.year if isinstance(citation.year, int) else int(citation.year[:4])


def month_day(pmid: int) -> tuple[int, int]:
    """A stable, PMID-derived month and day, so invented dates never change between runs."""
    return pmid % 12 + 1, pmid % 27 + 1


def initials(fore_name: str) -> str:
    return "".join(part[0] for part in fore_name.split())


def authors_of(citation: sc.SampleCitation) -> tuple[tuple[str, str], ...]:
    if citation.authors:
        return citation.authors
    pool = sc.AUTHOR_POOL
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


def add_abstract(parent: etree._Element, abstract: sc.Sections | str) -> None:
    element = sub(parent, "Abstract")
    if isinstance(abstract, str):
        sub_markup(element, "AbstractText", abstract)
        return
    for label, text in abstract:
        sub_markup(element, "AbstractText", text, Label=label, NlmCategory=NLM_CATEGORIES[label])


def add_journal(article: etree._Element, citation: sc.SampleCitation) -> sc.Journal:
    journal = sc.JOURNALS[citation.journal]
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
    return journal


def add_mesh_headings(parent: etree._Element, notations: Iterable[str]) -> None:
    heading_list = sub(parent, "MeshHeadingList")
    for notation in notations:
        heading = parse_heading(notation)
        element = sub(heading_list, "MeshHeading")
        attrs = {"UI": sc.DESCRIPTOR_UIS[heading.descriptor]}
        attrs["MajorTopicYN"] = "Y" if heading.descriptor_major else "N"
        if heading.descriptor in sc.GEOGRAPHIC_DESCRIPTORS:
            attrs["Type"] = "Geographic"
        sub(element, "DescriptorName", heading.descriptor, **attrs)
        for qualifier, major in heading.qualifiers:
            sub(
                element,
                "QualifierName",
                qualifier,
                UI=sc.QUALIFIER_UIS[qualifier],
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


def pubmed_article(citation: sc.SampleCitation) -> etree._Element:
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
    journal = add_journal(article, citation)
    sub_markup(article, "ArticleTitle", citation.title)
    doi = f"{DOI_PREFIX}{citation.pmid}"
    sub(article, "ELocationID", doi, EIdType="doi", ValidYN="Y")
    if citation.abstract is not None:
        add_abstract(article, citation.abstract)
    add_author_list(article, authors_of(citation))
    sub(article, "Language", "eng")
    types = sub(article, "PublicationTypeList")
    for name in citation.publication_types:
        sub(types, "PublicationType", name, UI=sc.DESCRIPTOR_UIS[name])

    info = sub(medline, "MedlineJournalInfo")
    sub(info, "Country", journal.country)
    sub(info, "MedlineTA", journal.iso_abbreviation)
    sub(info, "NlmUniqueID", journal.nlm_unique_id)
    sub(info, "ISSNLinking", journal.issn)
    if indexed:
        sub(medline, "CitationSubset", "IM")
    if citation.mesh:
        add_mesh_headings(medline, citation.mesh)
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


def pubmed_book_article(book: sc.SampleBook) -> etree._Element:
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
    sub(document, "PublicationType", "Review", UI=sc.DESCRIPTOR_UIS["Review"])
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


def release_files() -> Iterator[tuple[str, bytes]]:
    """(relative path, uncompressed XML) of the three PubMed release files."""
    yield (
        "pubmed/baseline/pubmed26n0001.xml.gz",
        article_set_xml(pubmed_article(c) for c in sc.BASELINE_1 + sc.BASELINE_1_SPECIAL),
    )
    yield (
        "pubmed/baseline/pubmed26n0002.xml.gz",
        article_set_xml(
            [pubmed_article(c) for c in sc.BASELINE_2 + sc.BASELINE_2_SPECIAL]
            + [pubmed_book_article(sc.BOOK_CHAPTER)]
        ),
    )
    yield (
        "pubmed/updatefiles/pubmed26n0003.xml.gz",
        article_set_xml(
            (pubmed_article(c) for c in sc.UPDATE_REVISED + sc.UPDATE_NEW),
            sc.UPDATE_DELETED_PMIDS,
        ),
    )


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


def build_mesh_sample(mesh_tree: Path) -> bytes:
    mesh = read_mesh_tree(mesh_tree)
    seeds = used_descriptor_uis() - CHECK_TAGS.keys()
    unknown = seeds - mesh.keys()
    if unknown:
        raise SystemExit(f"descriptor UIs not in {mesh_tree}: {sorted(unknown)}")
    descriptors = closed_under_parents(seeds, mesh)
    check_tags = [Descriptor(ui, name, ()) for ui, name in CHECK_TAGS.items()]
    return mesh_sample_xml(sorted(descriptors + check_tags, key=lambda d: d.ui))


# ---------------------------------------------------------------------------------------------
def build(out_dir: Path, mesh_tree: Path = DEFAULT_MESH_TREE) -> list[Path]:
    """Write the sample under out_dir; return the paths written. The MeSH file needs mesh_tree."""
    written: list[Path] = []
    for relative, xml in release_files():
        path = out_dir / relative
        write_release_file(path, xml)
        written += [path, path.with_name(path.name + ".md5")]
    if mesh_tree.exists():
        path = out_dir / "mesh" / "desc_sample.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build_mesh_sample(mesh_tree))
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
    args = parser.parse_args(argv)
    for path in build(args.out_dir, args.mesh_tree):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
