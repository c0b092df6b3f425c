"""Blocking data-quality checks for candidate_qa and evaluated_qa, one function each.

Columns of a frame are checked with GX suites; what SQL already decides (a failure rate,
descriptors missing from the tree, one preferred candidate per source) is a plain count.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import polars as pl

from mkailin_assets.agents.mesh_similarity import snapshot_inputs
from mkailin_assets.checks.gx_runner import (
    PendingCheck,
    decided,
    pending_check,
    pending_query_check,
)
from mkailin_assets.checks.verdicts import count_check, sql_count, verdict
from mkailin_assets.db import missing_pmids, query_pl

CANDIDATE_QA_CHECKS = [
    dg.AssetCheckSpec(
        "questions_well_formed",
        asset="candidate_qa",
        blocking=True,
        description="Generated questions are non-empty, of sane length and interrogative",
    ),
    dg.AssetCheckSpec(
        "question_descriptors_in_tree",
        asset="candidate_qa",
        blocking=True,
        description="Every descriptor a question is tagged with exists in the MeSH tree",
    ),
    dg.AssetCheckSpec(
        "contexts_exist",
        asset="candidate_qa",
        blocking=True,
        description="Every question has 1..k contexts and each context PMID is in citations",
    ),
    dg.AssetCheckSpec(
        "failure_rate_acceptable",
        asset="candidate_qa",
        blocking=True,
        description="Failed LLM items stay under the configured rate",
    ),
]
EVALUATED_QA_CHECKS = [
    dg.AssetCheckSpec(
        "scores_in_range",
        asset="evaluated_qa",
        blocking=True,
        description="MeSH scores lie in [0, 1]; exactly one preferred candidate per source",
    ),
    dg.AssetCheckSpec(
        "preference_pairs_valid",
        asset="evaluated_qa",
        blocking=True,
        description="chosen != rejected, known label sources, margins in [-1, 1]",
    ),
    dg.AssetCheckSpec(
        "answers_grounded",
        asset="evaluated_qa",
        blocking=True,
        description="Kept answers are non-empty and cite at least one of their context PMIDs",
    ),
    dg.AssetCheckSpec(
        "one_ic_snapshot",
        asset="evaluated_qa",
        blocking=True,
        description="Every MeSH score of the partition comes from one stored IC snapshot, "
        "computed with the MeSH vocabulary loaded now",
    ),
]


# ---- candidate_qa --------------------------------------------------------------------------


def questions_well_formed(con: duckdb.DuckDBPyConnection, category: str) -> PendingCheck:
    return pending_query_check(
        con,
        "questions_well_formed",
        """SELECT candidate_id, question, length(question) AS question_chars
           FROM candidate_qa WHERE category = ? AND status = 'ok'""",
        [category],
        [
            ("ExpectColumnValuesToNotBeNull", {"column": "question"}),
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "question_chars", "min_value": 10, "max_value": 1000},
            ),
            ("ExpectColumnValuesToMatchRegex", {"column": "question", "regex": r"\?\s*$"}),
            ("ExpectColumnValuesToBeUnique", {"column": "candidate_id"}),
        ],
        {"category": category},
    )


def question_descriptors_in_tree(
    con: duckdb.DuckDBPyConnection, category: str
) -> dg.AssetCheckResult:
    """Questions tagged with a descriptor that is not in the MeSH tree (any category)."""
    return count_check(
        con,
        "question_descriptors_in_tree",
        """SELECT count(*) FROM candidate_qa q
           WHERE q.category = ? AND q.status = 'ok'
             AND EXISTS (SELECT 1 FROM unnest(q.question_descriptors) AS u(d)
                         WHERE u.d NOT IN (SELECT descriptor_ui FROM mesh_descriptors
                                           WHERE len(tree_numbers) > 0))""",
        [category],
        {"category": category},
    )


def contexts_exist(con: duckdb.DuckDBPyConnection, category: str, k: int) -> PendingCheck:
    candidates = query_pl(
        con,
        """SELECT candidate_id, context_pmids FROM candidate_qa
           WHERE category = ? AND status = 'ok'""",
        [category],
    )
    # Existence by PMID lookup: `NOT IN (SELECT pmid FROM citations)` hashes the whole corpus.
    gone = pl.Series(
        sorted(missing_pmids(con, candidates["context_pmids"].explode().drop_nulls())),
        dtype=pl.Int64,
    ).implode()
    frame = candidates.select(
        "candidate_id",
        contexts=pl.col("context_pmids").list.len(),
        missing_contexts=pl.col("context_pmids").list.eval(pl.element().is_in(gone)).list.sum(),
    )
    return pending_check(
        "contexts_exist",
        frame,
        [
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "contexts", "min_value": 1, "max_value": k},
            ),
            ("ExpectColumnValuesToBeInSet", {"column": "missing_contexts", "value_set": [0]}),
        ],
    )


def failure_rate_acceptable(
    con: duckdb.DuckDBPyConnection, category: str, max_failure_rate: float
) -> dg.AssetCheckResult:
    items, failed = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE status <> 'ok')
           FROM candidate_qa WHERE category = ?""",
        [category],
    ).fetchall()[0]
    rate = failed / items if items else 0.0
    return verdict(
        "failure_rate_acceptable",
        rate <= max_failure_rate,
        {
            "items": int(items),
            "failed": int(failed),
            "failure_rate": round(rate, 4),
            "max_failure_rate": max_failure_rate,
        },
    )


def candidate_qa_checks(
    con: duckdb.DuckDBPyConnection, category: str, k: int, max_failure_rate: float
) -> list[PendingCheck]:
    """The checks' rows, read now; call each to validate (after letting the writer go)."""
    return [
        questions_well_formed(con, category),
        decided(question_descriptors_in_tree(con, category)),
        contexts_exist(con, category, k),
        decided(failure_rate_acceptable(con, category, max_failure_rate)),
    ]


# ---- evaluated_qa --------------------------------------------------------------------------


def scores_in_range(con: duckdb.DuckDBPyConnection, category: str) -> PendingCheck:
    """MeSH scores within [0, 1] (GX on the column) and one preferred candidate per source."""
    in_range = pending_query_check(
        con,
        "scores_in_range",
        "SELECT candidate_id, mesh_score FROM evaluated_qa WHERE category = ?",
        [category],
        [
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "mesh_score", "min_value": 0.0, "max_value": 1.0},
            )
        ],
        {"category": category},
    )
    not_one_preferred = sql_count(
        con,
        """SELECT count(*) FROM (
               SELECT source_pmid FROM evaluated_qa WHERE category = ?
               GROUP BY source_pmid HAVING count(*) FILTER (WHERE is_preferred) <> 1)""",
        [category],
    )

    def validated() -> dg.AssetCheckResult:
        ranged = in_range()
        return verdict(
            "scores_in_range",
            ranged.passed and not_one_preferred == 0,
            {**ranged.metadata, "sources_without_one_preferred": not_one_preferred},
        )

    return validated


def preference_pairs_valid(con: duckdb.DuckDBPyConnection, category: str) -> PendingCheck:
    return pending_query_check(
        con,
        "preference_pairs_valid",
        """SELECT chosen_id <> rejected_id AS distinct_sides, label_source, margin
           FROM preference_pairs WHERE category = ?""",
        [category],
        [
            ("ExpectColumnValuesToBeInSet", {"column": "distinct_sides", "value_set": [True]}),
            (
                "ExpectColumnValuesToBeInSet",
                {"column": "label_source", "value_set": ["judge", "cold_start"]},
            ),
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "margin", "min_value": -1.0, "max_value": 1.0},
            ),
        ],
    )


def answers_grounded(con: duckdb.DuckDBPyConnection, category: str) -> PendingCheck:
    """Kept answers only; flagged ones are excluded from training and counted here."""
    flagged = sql_count(
        con,
        """SELECT count(*) FROM evaluated_qa
           WHERE category = ? AND is_preferred AND answer_flag IS NOT NULL""",
        [category],
    )
    return pending_query_check(
        con,
        "answers_grounded",
        """SELECT candidate_id, length(trim(coalesce(answer, ''))) AS answer_chars,
                  len(cited_pmids) AS cited,
                  len(list_filter(cited_pmids, lambda p: NOT list_contains(context_pmids, p))) AS cited_outside
           FROM evaluated_qa WHERE category = ? AND is_preferred AND answer_flag IS NULL""",
        [category],
        [
            ("ExpectColumnValuesToBeBetween", {"column": "answer_chars", "min_value": 1}),
            ("ExpectColumnValuesToBeBetween", {"column": "cited", "min_value": 1}),
            ("ExpectColumnValuesToBeInSet", {"column": "cited_outside", "value_set": [0]}),
        ],
        {"flagged_answers": flagged},
    )


def evaluated_qa_checks(con: duckdb.DuckDBPyConnection, category: str) -> list[PendingCheck]:
    """The checks' rows, read now; call each to validate (after letting the writer go)."""
    return [
        scores_in_range(con, category),
        preference_pairs_valid(con, category),
        answers_grounded(con, category),
        decided(one_ic_snapshot(con, category)),
    ]


# The snapshots the partition's scores name, and the MeSH file each was built from.
_SNAPSHOTS_SQL = """
SELECT e.ic_snapshot, s.snapshot_id IS NOT NULL AS stored, s.mesh_sha256
FROM (SELECT DISTINCT ic_snapshot FROM evaluated_qa
      WHERE category = ? AND ic_snapshot IS NOT NULL) e
LEFT JOIN mesh_ic_snapshots s ON s.snapshot_id = e.ic_snapshot
"""


def one_ic_snapshot(con: duckdb.DuckDBPyConnection, category: str) -> dg.AssetCheckResult:
    """Scores from two snapshots (or from another MeSH file) would not be comparable."""
    rows = con.execute(_SNAPSHOTS_SQL, [category]).fetchall()
    current = snapshot_inputs(con).mesh_sha256  # the file the vocabulary holds now
    problems = [
        f"{snapshot}: " + ("not stored" if not stored else "built from another MeSH file")
        for snapshot, stored, sha256 in rows
        if not (stored and sha256 == current)
    ]
    return dg.AssetCheckResult(
        check_name="one_ic_snapshot",
        passed=len(rows) <= 1 and not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "category": category,
            "snapshots": ", ".join(sorted(str(r[0]) for r in rows)),
            "mesh_sha256": ", ".join(sorted({str(r[2]) for r in rows})),
            "problems": "; ".join(problems) or "none",
        },
    )
