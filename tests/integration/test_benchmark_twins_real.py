"""The benchmark-twin case as a user meets it: a release file holding PubMedQA's 500 test
citations plus 100 of them again under new PMIDs (same title, abstract and real MeSH), loaded
beside seven real 2021 baseline heads; categories C, D and E distilled offline. The copies are
found as the file loads, and no training record names one in any field, while the real
citations of the 2021 heads still reach the training set.

The release file is written at test time from ../shared/data (skipped when it is absent)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from mkailin_assets.checks.benchmark_checks import hygiene_hits
from mkailin_assets.db import apply_analysis_views, open_connection
from mkailin_assets.resources.method import MethodConfig
from tests.conftest import MESH_2024, PUBMEDQA_DIR, SHARED_DATA, require_shared
from tests.harness import Pipeline, check_outcomes, materialization_metadata, new_pipeline

HEADS = SHARED_DATA / "pubmed" / "samples" / "baseline_heads_2021"
CATEGORIES = ["C", "D", "E"]
STAGES = ["raw_abstracts", "candidate_qa", "evaluated_qa", "training_set"]
COPIES = 100
COPY_BASE = 98_000_000  # PMIDs no real citation of these files carries
FIXTURE_NAME = "pubmed21n1006.xml.gz"  # after the heads, in NLM's order


def descriptor_uis(path: Path = MESH_2024) -> dict[str, str]:
    """MeSH 2024 descriptor name -> UI."""
    names = {}
    with gzip.open(path) as stream:
        for _, record in etree.iterparse(stream, tag="DescriptorRecord"):
            names[record.findtext("DescriptorName/String")] = record.findtext("DescriptorUI")
            record.clear()
    return names


def article(pmid: int, item: dict, uis: dict[str, str]) -> str:
    labels = item.get("LABELS") or [""] * len(item["CONTEXTS"])
    sections = "".join(
        f'<AbstractText Label="{escape(label)}">{escape(text)}</AbstractText>'
        for label, text in zip(labels, item["CONTEXTS"], strict=True)
    )
    headings = "".join(
        f'<MeshHeading><DescriptorName UI="{uis[name]}" MajorTopicYN="N">{escape(name)}'
        "</DescriptorName></MeshHeading>"
        for name in item.get("MESHES", [])
        if name in uis
    )
    return (
        '<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
        f'<PMID Version="1">{pmid}</PMID><Article PubModel="Print"><Journal>'
        f'<JournalIssue CitedMedium="Print"><PubDate><Year>{item.get("YEAR") or 2010}</Year>'
        "</PubDate></JournalIssue><Title>Republished Trials</Title></Journal>"
        f"<ArticleTitle>{escape(item['QUESTION'])}</ArticleTitle>"
        f"<Abstract>{sections}</Abstract><Language>eng</Language></Article>"
        f"<MeshHeadingList>{headings}</MeshHeadingList></MedlineCitation>"
        "<PubmedData><PublicationStatus>ppublish</PublicationStatus></PubmedData>"
        "</PubmedArticle>"
    )


def write_fixture(folder: Path) -> dict[int, int]:
    """The release folder (the heads linked, the benchmark file written); copy PMID -> item."""
    items = json.loads((PUBMEDQA_DIR / "ori_pqal.json").read_text(encoding="utf-8"))
    test_pmids = sorted(int(p) for p in json.loads(
        (PUBMEDQA_DIR / "test_ground_truth.json").read_text(encoding="utf-8")))  # fmt: skip
    uis = descriptor_uis()
    copies = {COPY_BASE + i: pmid for i, pmid in enumerate(test_pmids[:COPIES])}
    records = [(p, p) for p in test_pmids] + list(copies.items())
    body = "".join(article(pmid, items[str(item)], uis) for pmid, item in sorted(records))
    folder.mkdir(parents=True)
    for head in sorted(HEADS.glob("*.xml.gz")):
        (folder / head.name).symlink_to(head)
    with gzip.open(folder / FIXTURE_NAME, "wt", encoding="utf-8") as out:
        out.write(f'<?xml version="1.0" encoding="utf-8"?><PubmedArticleSet>{body}'
                  "</PubmedArticleSet>")  # fmt: skip
    return copies


@pytest.fixture(scope="module")
def distilled(tmp_path_factory) -> tuple[Pipeline, dict[int, int], dict]:
    for path in (HEADS, MESH_2024, PUBMEDQA_DIR):
        require_shared(path)
    root = tmp_path_factory.mktemp("twins")
    copies = write_fixture(root / "pubmed")
    pipeline = new_pipeline(
        root,
        # A sample per category keeps the offline run short; contexts come from every citation.
        method=MethodConfig(sample_per_category=60),
        MKAILIN_MESH_SOURCE=str(MESH_2024),
        MKAILIN_PUBMED_SOURCE=str(root / "pubmed"),
    )
    pipeline.materialize(["mesh_vocabulary"])
    for letter in CATEGORIES:
        pipeline.materialize(["mesh_tree"], letter)
    names = sorted(p.name for p in (root / "pubmed").glob("*.xml.gz"))
    loads = pipeline.load_files(names)
    loaded = materialization_metadata(loads[-1], "pubmed_files")
    runs = {c: pipeline.materialize(STAGES, c, raise_on_error=False) for c in CATEGORIES}
    return pipeline, copies, {"loaded": loaded, "runs": runs}


def test_the_copies_are_found_as_the_file_loads(distilled):
    pipeline, copies, facts = distilled
    found = pipeline.rows("SELECT pmid, item FROM benchmark_twins ORDER BY pmid")
    assert {p: int(item) for p, item in found} == copies
    assert facts["loaded"]["benchmark_twins_found"] == COPIES
    assert facts["loaded"]["benchmark_twins_compared"] == 500 + COPIES
    con = open_connection(pipeline.db_path)
    try:
        apply_analysis_views(con)  # sql/analysis: the views users query
        report = con.execute(
            "SELECT file_name, twin_citations FROM benchmark_twin_report ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert dict(report) == {name: COPIES if name == FIXTURE_NAME else 0 for name, _ in report}
    assert len(report) == 8


def test_no_training_record_names_a_twin_and_real_citations_still_reach_it(distilled):
    pipeline, copies, facts = distilled
    for letter, run in facts["runs"].items():
        outcomes = check_outcomes(run)
        for check in ("no_benchmark_pmid_in_any_field", "no_context_from_another_split"):
            assert outcomes.get(("training_set", check)) is True, (letter, check, outcomes)
    con = open_connection(pipeline.db_path, read_only=True)
    try:
        hits = hygiene_hits(con, set(copies))
        records = con.execute("SELECT count(*) FROM training_set").fetchall()[0][0]
        real = con.execute(
            """SELECT count(*) FROM training_set t WHERE EXISTS (
                   SELECT 1 FROM citations c
                   WHERE c.source_file <> ? AND (c.pmid = t.source_pmid
                         OR list_contains(t.context_pmids, c.pmid)))""",
            [FIXTURE_NAME],
        ).fetchall()[0][0]
        retrieved = con.execute(
            "SELECT count(*) FROM candidate_qa WHERE list_has_any(context_pmids, ?)",
            [sorted(copies)],
        ).fetchall()[0][0]
    finally:
        con.close()
    assert records > 0 and hits.is_empty(), hits.head(5)
    assert retrieved == 0  # never even retrieved as a context
    assert real > 0  # the control: real 2021 citations still reach the training set
