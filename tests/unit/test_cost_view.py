"""The cost view against a hand-computed case: the cost per exported SFT record counts only the
calls that produced the data, over the records the export writes; evaluation spend is apart.
filter_report lists the rows the export leaves out by its membership rule."""

from __future__ import annotations

import json

import pytest

from mkailin_assets.db import apply_analysis_views, apply_schema, open_connection


@pytest.fixture
def con(tmp_path):
    con = open_connection(str(tmp_path / "cost.duckdb"))
    apply_schema(con)
    yield con
    con.close()


def _call(con, call_id: str, role: str, cost: float) -> None:
    con.execute(
        """INSERT INTO llm_calls (call_id, kind, role, model, prompt_version, request, status,
               prompt_tokens, completion_tokens, cached_tokens, cost_usd, attempts, via, created_at)
           VALUES (?, 'chat', ?, 'm', 'v1', '{}', 'ok', 10, 5, 0, ?, 1, 'sync', now())""",
        [call_id, role, cost],
    )


def _record(con, category: str, kind: str, key: str) -> None:
    con.execute(
        """INSERT INTO training_set (category, record_id, kind, split, source_pmid,
               context_pmids, record, provenance, created_at)
           VALUES (?, ?, ?, 'train', 1, [2], ?, '{}', now())""",
        [category, f"{kind}:{category}:{key}", kind, json.dumps({})],
    )


def test_cost_per_exported_record_hand_computed(con) -> None:
    # Data: 0.10 + 0.20 + 0.30 = 0.60 USD in 3 calls; evaluation: 2 calls of 1.00 USD.
    _call(con, "q", "question:clinical", 0.10)
    _call(con, "j", "judge", 0.20)
    _call(con, "a", "answer", 0.30)
    _call(con, "b1", "benchmark", 1.00)
    _call(con, "b2", "benchmark", 1.00)
    # SFT rows, one per category membership: k1 in A and C, k2 in A, k3 in B, k4 in B and C
    # (6 rows, 4 questions); pretrain rows must not count.
    for category, key in [
        ("A", "k1"),
        ("C", "k1"),
        ("A", "k2"),
        ("B", "k3"),
        ("B", "k4"),
        ("C", "k4"),
    ]:
        _record(con, category, "sft", key)
        _record(con, category, "pretrain", key)
    # The export removed k3 as a question twin across categories: 3 records are exported.
    con.execute(
        """INSERT INTO training_export_filtered VALUES
           ('B', 'sft:B:k3', 'sft', 'exact_dup', 'twin of sft:A:k2', 'sft:A:k2', now())"""
    )
    apply_analysis_views(con)
    row = con.execute("FROM cost_per_kept_record").fetchone()
    assert row == (0.6, 3, 3, 0.2, 2.0, 2)

    report = dict(
        ((category, f), n) for category, f, n in con.execute("FROM filter_report").fetchall()
    )
    # C's rows of k1 and k4 are written under A and B.
    assert report[("C", "export:written_under_first_category:sft")] == 2
    assert report[("C", "export:written_under_first_category:pretrain")] == 2
    assert ("A", "export:written_under_first_category:sft") not in report
    assert report[("B", "export:exact_dup")] == 1


def test_no_records_no_division(con) -> None:
    _call(con, "q", "question:clinical", 0.5)
    apply_analysis_views(con)
    assert con.execute("FROM cost_per_kept_record").fetchone() == (0.5, 1, 0, None, 0.0, 0)
