"""The sample data under data/sample/: present, well-formed NLM XML, consistent with its MeSH subset.

Everything here is computed straight from the XML with lxml, independently of mkailin_assets.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import MESH_2024, REPO_ROOT, require_shared

SAMPLE = REPO_ROOT / "data" / "sample"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_sample.py"
CITATIONS = SAMPLE / "source" / "citations.yaml"
MESH_FILE = SAMPLE / "mesh" / "desc_sample.xml"
BASELINE_FILES = [
    SAMPLE / "pubmed" / "baseline" / "pubmed00n0001.xml.gz",
    SAMPLE / "pubmed" / "baseline" / "pubmed00n0002.xml.gz",
]
UPDATE_FILE = SAMPLE / "pubmed" / "updatefiles" / "pubmed00n0003.xml.gz"
RELEASE_FILES = [*BASELINE_FILES, UPDATE_FILE]
CATEGORIES = list("ABCDEFGHIJKLMNZ")  # every MeSH category but V (publication characteristics)
NLM_DOCTYPE = re.compile(
    r'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January \d{4}//EN" '
    r'"https://dtd\.nlm\.nih\.gov/ncbi/pubmed/out/pubmed_\d{6}\.dtd">'
)


@cache
def release_root(path: Path) -> etree._Element:
    with gzip.open(path) as stream:
        return etree.parse(stream).getroot()


@cache
def mesh_records() -> dict[str, tuple[str, tuple[str, ...]]]:
    """UI -> (name, tree numbers) from the sample MeSH file."""
    root = etree.parse(str(MESH_FILE)).getroot()
    return {
        r.findtext("DescriptorUI"): (
            r.findtext("DescriptorName/String"),
            tuple(t.text for t in r.iter("TreeNumber")),
        )
        for r in root.iter("DescriptorRecord")
    }


def articles(path: Path) -> list[etree._Element]:
    return release_root(path).findall("PubmedArticle")


def pmid_of(article: etree._Element) -> int:
    return int(article.findtext("MedlineCitation/PMID"))


def abstract_text(article: etree._Element) -> str:
    return " ".join(
        "".join(t.itertext()).strip() for t in article.iterfind(".//Abstract/AbstractText")
    ).strip()


def categories_of(article: etree._Element) -> set[str]:
    """docs/method.md#categories: letters of the major headings' tree numbers, else of all."""
    headings = article.findall("MedlineCitation/MeshHeadingList/MeshHeading")
    major = [
        h
        for h in headings
        if any(
            e.get("MajorTopicYN") == "Y" for e in h if e.tag in {"DescriptorName", "QualifierName"}
        )
    ]
    chosen = major or headings
    trees = mesh_records()
    return {
        tree_number[0]
        for h in chosen
        for tree_number in trees[h.find("DescriptorName").get("UI")][1]
    }


def final_state(paths: list[Path]) -> dict[int, etree._Element]:
    """Apply release files in order: a later record (or a higher version) replaces an earlier one."""
    state: dict[int, etree._Element] = {}
    for path in paths:
        for article in articles(path):
            state[pmid_of(article)] = article
        for pmid in release_root(path).iterfind("DeleteCitation/PMID"):
            state.pop(int(pmid.text), None)
    return state


def category_counts(state: dict[int, etree._Element]) -> Counter[str]:
    return Counter(
        letter for a in state.values() if abstract_text(a) for letter in categories_of(a)
    )


# --- files and formats --------------------------------------------------------------------------


def test_sample_files_exist() -> None:
    for path in [*RELEASE_FILES, MESH_FILE, SAMPLE / "README.md"]:
        assert path.is_file(), path
    for path in RELEASE_FILES:
        assert Path(f"{path}.md5").is_file(), path


def test_sample_file_names_differ_from_the_real_nlm_files() -> None:
    ours = {p.name for p in SAMPLE.rglob("*") if p.is_file() and p.suffix != ".md"}
    shared = REPO_ROOT.parent / "shared" / "data"
    theirs = {p.name for p in shared.rglob("*") if p.is_file()} if shared.exists() else set()
    assert not ours & theirs


@pytest.mark.parametrize("path", RELEASE_FILES, ids=lambda p: p.name)
def test_release_file_is_nlm_pubmed_xml(path: Path) -> None:
    with gzip.open(path) as stream:
        head = stream.read(400).decode("utf-8")
    assert head.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
    assert NLM_DOCTYPE.search(head)
    root = release_root(path)
    assert root.tag == "PubmedArticleSet"
    assert {child.tag for child in root} <= {"PubmedArticle", "PubmedBookArticle", "DeleteCitation"}
    for article in articles(path):
        citation = article.find("MedlineCitation")
        assert citation.get("Status") in {"MEDLINE", "In-Process"}
        assert citation.get("Owner") == "NLM"
        assert citation.find("PMID").get("Version") in {"1", "2"}
        assert pmid_of(article) >= 90000001  # fictitious range, clear of real PMIDs
        assert "".join(citation.find("Article/ArticleTitle").itertext())
        assert citation.findtext("Article/Language") == "eng"
        assert citation.find("Article/Journal/JournalIssue/PubDate") is not None
        ids = {
            i.get("IdType"): i.text for i in article.iterfind("PubmedData/ArticleIdList/ArticleId")
        }
        assert ids["pubmed"] == str(pmid_of(article))
        assert ids["doi"].startswith("10.5555/")
        for pub_type in citation.iterfind("Article/PublicationTypeList/PublicationType"):
            assert re.fullmatch(r"D\d{6}", pub_type.get("UI"))


@pytest.mark.parametrize("path", RELEASE_FILES, ids=lambda p: p.name)
def test_md5_file_matches_in_nlm_format(path: Path) -> None:
    text = Path(f"{path}.md5").read_text(encoding="ascii")
    match = re.fullmatch(r"MD5\((?P<name>[^)]+)\)= (?P<digest>[0-9a-f]{32})\n", text)
    assert match, text
    assert match["name"] == path.name
    assert match["digest"] == hashlib.md5(path.read_bytes()).hexdigest()


# --- content the pipeline and its tests rely on ---------------------------------------------------


def test_citation_counts_and_special_records() -> None:
    first, second = (articles(p) for p in BASELINE_FILES)
    update = articles(UPDATE_FILE)
    assert 60 <= len(first) + len(second) <= 80
    pmids_first = [pmid_of(a) for a in first]
    duplicated = [p for p, n in Counter(pmids_first).items() if n > 1]
    assert len(duplicated) == 1  # the same PMID twice in one baseline file
    twice = [a for a in first if pmid_of(a) == duplicated[0]]
    assert abstract_text(twice[0]) != abstract_text(twice[1])

    baseline = first + second
    in_process = [a for a in baseline if a.find("MedlineCitation").get("Status") == "In-Process"]
    assert len(in_process) == 2
    assert all(a.find(".//MeshHeadingList") is None and abstract_text(a) for a in in_process)
    assert sum(1 for a in baseline if not abstract_text(a)) == 1
    assert len(release_root(BASELINE_FILES[1]).findall("PubmedBookArticle")) == 1
    raw = b"".join(gzip.decompress(p.read_bytes()) for p in BASELINE_FILES).decode("utf-8")
    assert any(ord(ch) > 127 for ch in raw)  # Greek letters and accented names
    assert sum(1 for a in baseline if a.find(".//PubDate/MedlineDate") is not None) >= 2
    assert sum(1 for a in baseline if a.find(".//KeywordList") is not None) >= 3
    assert sum(1 for a in baseline if a.find(".//AbstractText/i") is not None) >= 5
    assert sum(1 for a in baseline if a.find(".//AbstractText/sup") is not None) >= 1
    assert any(q.get("MajorTopicYN") == "Y" for q in raw_qualifiers(baseline))

    baseline_pmids = {pmid_of(a) for a in baseline}
    revised = [a for a in update if pmid_of(a) in baseline_pmids]
    assert len(revised) == 3 and len(update) - len(revised) == 4
    assert [a.find("MedlineCitation/PMID").get("Version") for a in revised].count("2") == 1
    deleted = [int(p.text) for p in release_root(UPDATE_FILE).iterfind("DeleteCitation/PMID")]
    assert len([p for p in deleted if p in baseline_pmids]) == 2
    assert len([p for p in deleted if p not in baseline_pmids]) == 1
    assert list(release_root(UPDATE_FILE))[-1].tag == "DeleteCitation"


def raw_qualifiers(articles_: list[etree._Element]) -> list[etree._Element]:
    return [q for a in articles_ for q in a.iterfind(".//MeshHeading/QualifierName")]


def test_abstracts_are_structured_mostly_and_of_realistic_length() -> None:
    baseline = [a for p in BASELINE_FILES for a in articles(p)] + articles(UPDATE_FILE)
    with_abstract = [a for a in baseline if abstract_text(a)]
    structured = [a for a in with_abstract if len(a.findall(".//AbstractText[@NlmCategory]")) >= 4]
    assert 0.7 * len(with_abstract) <= len(structured) < len(with_abstract)
    for article in with_abstract:
        words = len(abstract_text(article).split())
        assert 120 <= words <= 250, (pmid_of(article), words)
    for article in structured:
        labels = [t.get("NlmCategory") for t in article.iterfind(".//AbstractText")]
        assert labels == ["BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS"]
        objective = article.findtext(".//AbstractText[@NlmCategory='OBJECTIVE']")
        assert objective.startswith("To ")


# --- MeSH sample ------------------------------------------------------------------------------------


def test_mesh_sample_is_nlm_descriptor_xml() -> None:
    root = etree.parse(str(MESH_FILE)).getroot()
    assert root.tag == "DescriptorRecordSet" and root.get("LanguageCode") == "eng"
    for record in root.iter("DescriptorRecord"):
        assert record.get("DescriptorClass") in {"1", "2", "3", "4"}
        assert re.fullmatch(r"D\d{6,9}", record.findtext("DescriptorUI"))
        assert record.findtext("DescriptorName/String")
        assert record.findtext("DateCreated/Year")
    names = {name for name, _ in mesh_records().values()}
    assert {"Male", "Female"} <= names
    assert mesh_records()["D008297"] == ("Male", ())
    assert "MeSH 2024" in MESH_FILE.read_text(encoding="utf-8")[:500]
    # The name carries no year, so readers fall back to the latest date: it must be 2024.
    assert {int(y.text) for y in root.iterfind("DescriptorRecord/DateCreated/Year")} == {2024}


def test_every_heading_and_publication_type_is_in_the_mesh_sample_with_its_name() -> None:
    records = mesh_records()
    headings = [
        d
        for path in RELEASE_FILES
        for xpath in (".//MeshHeading/DescriptorName", ".//PublicationType")
        for d in release_root(path).iterfind(xpath)
    ]
    assert len(headings) > 300
    for descriptor in headings:
        assert descriptor.get("UI") in records, descriptor.text
        assert records[descriptor.get("UI")][0] == descriptor.text


def test_mesh_sample_tree_covers_all_sixteen_categories() -> None:
    # Every mesh_tree partition (V included, through publication types) must be non-empty.
    letters = {t[0] for _, trees in mesh_records().values() for t in trees}
    assert letters == set("ABCDEFGHIJKLMNVZ")


def test_mesh_sample_tree_is_closed_under_parents() -> None:
    tree_numbers = {t for _, trees in mesh_records().values() for t in trees}
    assert tree_numbers
    for tree_number in tree_numbers:
        assert re.fullmatch(r"[A-Z]\d{2}(\.\d{3})*", tree_number), tree_number
        if "." in tree_number:
            assert tree_number.rsplit(".", 1)[0] in tree_numbers, tree_number


@pytest.mark.parametrize(
    "files", [BASELINE_FILES, RELEASE_FILES], ids=["baseline", "baseline+update"]
)
def test_each_category_has_three_abstracts_by_major_topic(files: list[Path]) -> None:
    counts = category_counts(final_state(files))
    assert {letter: counts[letter] for letter in CATEGORIES if counts[letter] < 3} == {}


def test_update_indexes_an_in_process_citation() -> None:
    before = final_state(BASELINE_FILES)
    after = final_state(RELEASE_FILES)
    newly_indexed = [
        pmid
        for pmid, a in after.items()
        if pmid in before
        and before[pmid].find(".//MeshHeadingList") is None
        and a.find(".//MeshHeadingList") is not None
    ]
    assert len(newly_indexed) == 1
    assert categories_of(after[newly_indexed[0]])


# --- the generator ----------------------------------------------------------------------------------


def run_generator(out_dir: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), str(out_dir), *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_generator_reproduces_the_pubmed_files_byte_for_byte(tmp_path: Path) -> None:
    # A missing tree path: the PubMed files need no NLM data, the MeSH file is then skipped.
    run_generator(tmp_path, "--mesh-tree", str(tmp_path / "absent.xml.gz"))
    for path in RELEASE_FILES:
        relative = path.relative_to(SAMPLE)
        assert (tmp_path / relative).read_bytes() == path.read_bytes(), relative
        md5 = Path(f"{relative}.md5")
        assert (tmp_path / md5).read_bytes() == (SAMPLE / md5).read_bytes()
    assert not (tmp_path / "mesh" / "desc_sample.xml").exists()


def test_generator_reproduces_the_mesh_sample_byte_for_byte(tmp_path: Path) -> None:
    mesh_tree = require_shared(MESH_2024)
    run_generator(tmp_path, "--mesh-tree", str(mesh_tree))
    assert (tmp_path / "mesh" / "desc_sample.xml").read_bytes() == MESH_FILE.read_bytes()


def test_citations_name_descriptors_and_never_write_their_uis() -> None:
    # Descriptor UIs come from the MeSH sample by name; only qualifier UIs (Q...) are listed.
    text = CITATIONS.read_text(encoding="utf-8")
    assert "Metformin/therapeutic use*" in text
    assert not re.findall(r"\bD\d{6,9}\b", text)


@pytest.mark.parametrize(
    ("heading", "renamed", "reported"),
    [
        ("- Metformin/therapeutic use*", "- Metformine/therapeutic use*", "'Metformine'"),
        (
            "- Metformin/therapeutic use*",
            "- Metformin/therapeutic uses*",
            "qualifier therapeutic uses",
        ),
    ],
    ids=["descriptor", "qualifier"],
)
def test_generator_stops_on_an_unknown_mesh_name(
    tmp_path: Path, heading: str, renamed: str, reported: str
) -> None:
    citations = tmp_path / "citations.yaml"
    citations.write_text(CITATIONS.read_text(encoding="utf-8").replace(heading, renamed, 1))
    completed = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), str(tmp_path / "out"), "--citations", str(citations)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode != 0
    assert "unknown MeSH names" in completed.stderr and reported in completed.stderr
    assert not (tmp_path / "out").exists()  # nothing written


def test_sample_release_names_cannot_collide_with_nlm():
    """NLM names its files pubmedYYnNNNN with YY the baseline year (pubmed18n … pubmed26n so far);
    the sample uses year 00, which NLM never publishes, so a sensor pointed at NLM after the demo
    never takes NLM's files for loaded sample files (and sees them as a later release year)."""
    from mkailin_assets.automation.sensors import release_year
    from mkailin_assets.ingest.sources import list_release_files

    names = [release.name for release in list_release_files(str(SAMPLE / "pubmed"))]
    assert names == [f"pubmed00n000{n}.xml.gz" for n in (1, 2, 3)]
    assert {release_year(name) for name in names} == {0}
    assert all(release_year(f"pubmed{year}n0001.xml.gz") > 0 for year in range(18, 100))
