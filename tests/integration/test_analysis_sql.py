"""Every file in sql/analysis/ runs against a database the pipeline materialized from the sample:
the numbered files create views (each then returns rows with its documented columns);
demo_summary.sql is a plain query."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mkailin_assets.db import open_connection
from mkailin_assets.demo import SUMMARY_COLUMNS
from mkailin_assets.settings import REPO_ROOT
from mkailin_assets.sql_files import analysis_files
from tests.harness import OFFLINE_CATEGORIES, Pipeline, offline_sample_pipeline

ANALYSIS_DIR = REPO_ROOT / "sql" / "analysis"  # the folder users run; the package carries it

VIEW_COLUMNS = {
    "qa_per_category": ["category", "name", "kind", "split", "records", "source_pmids"],
    "mesh_coverage": ["depth", "descriptors", "covered", "share_covered"],
    "score_distributions": [
        "category",
        "is_preferred",
        "candidates",
        "scored",
        "mean_score",
        "p25",
        "median",
        "p75",
        "histogram_0_1",
    ],
    "llm_cost_by_model": [
        "model",
        "role",
        "status",
        "calls",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
    ],
    "cost_per_kept_record": [
        "data_cost_usd",
        "data_calls",
        "exported_sft_records",
        "cost_per_exported_record_usd",
        "evaluation_cost_usd",
        "evaluation_calls",
    ],
    "filter_report": ["category", "filter", "removed"],
    "release_ledger": [
        "file_name",
        "kind",
        "articles_read",
        "citations_upserted",
        "citations_skipped_older",
        "duplicates_in_file",
        "deletions",
        "quarantined",
        "changed_pmids",
        "md5_verified",
        "loaded_at",
    ],
    "benchmark_latest": [
        "model",
        "model_id",
        "benchmark",
        "setting",
        "split",
        "n",
        "n_expected",
        "accuracy_pct",
        "ci_low_pct",
        "ci_high_pct",
        "ci_method",
        "macro_f1_pct",
        "recall_yes_pct",
        "recall_no_pct",
        "recall_maybe_pct",
        "unparseable",
        "majority_baseline_pct",
        "gpt4_medprompt_pct",
        "med_palm2_pct",
        "partial",
        "run_id",
        "created_at",
    ],
}
VIEW_COLUMNS["benchmark_twin_report"] = ["file_name", "twin_citations", "items_copied", "twins"]
VIEW_COLUMNS["category_freshness"] = [
    "category",
    "name",
    "latest_file",
    "covered_file",
    "refreshed_at",
    "files_pending",
    "first_pending_file",
    "state",
]
QUERY_COLUMNS = {"demo_summary.sql": [column.name for column in SUMMARY_COLUMNS]}
_VIEW = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+(\w+)", re.IGNORECASE)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Pipeline:
    """The sample distilled offline, one crafted duplicate question in another category (so the
    export removes something), training_set for each category, the export."""
    distilled = offline_sample_pipeline(tmp_path_factory.mktemp("analysis"))
    template = distilled.scalar(
        "SELECT candidate_id FROM evaluated_qa WHERE category = 'K' AND is_preferred "
        "AND answer_flag IS NULL ORDER BY candidate_id LIMIT 1"
    )
    distilled.execute(
        "INSERT INTO evaluated_qa SELECT * REPLACE ('Z' AS category, 'zz-duplicate' AS "
        "candidate_id) FROM evaluated_qa WHERE candidate_id = ? LIMIT 1",
        [template],
    )
    for letter in OFFLINE_CATEGORIES:
        distilled.materialize(["training_set"], letter)
    distilled.materialize(["training_export"])
    distilled.instance.add_dynamic_partitions("benchmark_models", ["offline"])
    distilled.materialize(["benchmark_eval"], "offline")
    return distilled


def run_file(pipeline: Pipeline, sql: str) -> None:
    con = open_connection(pipeline.db_path)
    try:
        con.execute(sql)
    finally:
        con.close()


def select_all(pipeline: Pipeline, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    con = open_connection(pipeline.db_path, read_only=True)
    try:
        cursor = con.execute(sql)
        return [d[0] for d in cursor.description], cursor.fetchall()
    finally:
        con.close()


def test_every_analysis_file_is_covered():
    files = sorted(p.name for p in ANALYSIS_DIR.glob("*.sql"))
    views = [v for p in ANALYSIS_DIR.glob("*.sql") for v in _VIEW.findall(p.read_text())]
    assert sorted(views) == sorted(VIEW_COLUMNS)
    assert [f for f in files if not f[:3].isdigit()] == sorted(QUERY_COLUMNS)
    assert [f.name for f in analysis_files()] == [f for f in files if f[:3].isdigit()]


def test_views_return_rows_with_their_columns(pipeline):
    for path in sorted(p for p in ANALYSIS_DIR.glob("*.sql") if p.name[:3].isdigit()):
        run_file(pipeline, path.read_text())
        for view in _VIEW.findall(path.read_text()):
            columns, rows = select_all(pipeline, f"SELECT * FROM {view}")  # names from our files
            assert columns == VIEW_COLUMNS[view], view
            assert rows, f"{view} ({path.name}) returned no rows"


def test_view_figures_agree_with_the_tables(pipeline):
    for path in sorted(p for p in ANALYSIS_DIR.glob("*.sql") if p.name[:3].isdigit()):
        run_file(pipeline, path.read_text())
    _, per_category = select_all(pipeline, "SELECT sum(records) FROM qa_per_category")
    assert per_category[0][0] == pipeline.scalar("SELECT count(*) FROM training_set")
    _, filters = select_all(
        pipeline,
        "SELECT category, filter, removed FROM filter_report WHERE filter = 'export:exact_dup'",
    )
    assert filters and all(category == "Z" for category, _, _ in filters)
    _, ledger = select_all(pipeline, "SELECT file_name, deletions FROM release_ledger")
    assert ledger == [
        ("pubmed00n0001.xml.gz", 0),
        ("pubmed00n0002.xml.gz", 0),
        ("pubmed00n0003.xml.gz", 3),
    ]
    _, coverage = select_all(
        pipeline, "SELECT min(share_covered), max(share_covered) FROM mesh_coverage"
    )
    assert 0.0 <= coverage[0][0] <= coverage[0][1] <= 1.0


def test_demo_summary_query(pipeline):
    columns, rows = select_all(pipeline, (ANALYSIS_DIR / "demo_summary.sql").read_text())
    assert columns == QUERY_COLUMNS["demo_summary.sql"]
    assert len(rows) == 16  # one line per MeSH category, filled or not
    by_letter = {row[0]: dict(zip(columns, row, strict=True)) for row in rows}
    for letter in OFFLINE_CATEGORIES:
        assert by_letter[letter]["questions"] > 0 and by_letter[letter]["sft"] > 0
    assert by_letter["V"]["abstracts"] == 0
