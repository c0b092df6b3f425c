"""Blocking data-quality checks for candidate_qa and evaluated_qa (GX suites)."""

from __future__ import annotations

import dagster as dg
import duckdb

from mkailin_assets.checks.gx_runner import run_check

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


def candidate_qa_checks(
    con: duckdb.DuckDBPyConnection, category: str, k: int, max_failure_rate: float
) -> list[dg.AssetCheckResult]:
    ok_rows = con.execute(
        """SELECT q.candidate_id, q.question, length(q.question) AS question_chars,
                  len(q.context_pmids) AS contexts,
                  (SELECT count(*) FROM unnest(q.question_descriptors) AS u(d)
                   WHERE u.d NOT IN (SELECT descriptor_ui FROM mesh_descriptors
                                     WHERE len(tree_numbers) > 0)) AS unknown_descriptors,
                  (SELECT count(*) FROM unnest(q.context_pmids) AS u(p)
                   WHERE u.p NOT IN (SELECT pmid FROM citations)) AS missing_contexts
           FROM candidate_qa q WHERE q.category = ? AND q.status = 'ok'""",
        [category],
    ).df()
    rate = con.execute(
        """SELECT count(*) AS items, count(*) FILTER (WHERE status <> 'ok') AS failed,
                  coalesce(count(*) FILTER (WHERE status <> 'ok') / nullif(count(*), 0), 0) AS failure_rate
           FROM candidate_qa WHERE category = ?""",
        [category],
    ).df()
    return [
        run_check(
            "questions_well_formed",
            ok_rows,
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
        ),
        run_check(
            "question_descriptors_in_tree",
            ok_rows,
            [("ExpectColumnValuesToBeInSet", {"column": "unknown_descriptors", "value_set": [0]})],
        ),
        run_check(
            "contexts_exist",
            ok_rows,
            [
                (
                    "ExpectColumnValuesToBeBetween",
                    {"column": "contexts", "min_value": 1, "max_value": k},
                ),
                ("ExpectColumnValuesToBeInSet", {"column": "missing_contexts", "value_set": [0]}),
            ],
        ),
        run_check(
            "failure_rate_acceptable",
            rate,
            [
                (
                    "ExpectColumnValuesToBeBetween",
                    {"column": "failure_rate", "min_value": 0, "max_value": max_failure_rate},
                )
            ],
            {"items": int(rate["items"][0]), "failed": int(rate["failed"][0])},
        ),
    ]


def evaluated_qa_checks(con: duckdb.DuckDBPyConnection, category: str) -> list[dg.AssetCheckResult]:
    scores = con.execute(
        "SELECT candidate_id, mesh_score FROM evaluated_qa WHERE category = ?", [category]
    ).df()
    preferred_per_source = con.execute(
        """SELECT source_pmid, count(*) FILTER (WHERE is_preferred) AS preferred
           FROM evaluated_qa WHERE category = ? GROUP BY source_pmid""",
        [category],
    ).df()
    pairs = con.execute(
        """SELECT chosen_id <> rejected_id AS distinct_sides, label_source, margin
           FROM preference_pairs WHERE category = ?""",
        [category],
    ).df()
    answers = con.execute(
        """SELECT candidate_id, length(trim(coalesce(answer, ''))) AS answer_chars,
                  len(cited_pmids) AS cited,
                  len(list_filter(cited_pmids, lambda p: NOT list_contains(context_pmids, p))) AS cited_outside
           FROM evaluated_qa WHERE category = ? AND is_preferred AND answer_flag IS NULL""",
        [category],
    ).df()
    flagged = con.execute(
        "SELECT count(*) FROM evaluated_qa WHERE category = ? AND is_preferred AND answer_flag IS NOT NULL",
        [category],
    ).fetchone()[0]
    return [
        _scores_and_preferred(scores, preferred_per_source, category),
        run_check(
            "preference_pairs_valid",
            pairs,
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
        ),
        run_check(
            "answers_grounded",
            answers,
            [
                ("ExpectColumnValuesToBeBetween", {"column": "answer_chars", "min_value": 1}),
                ("ExpectColumnValuesToBeBetween", {"column": "cited", "min_value": 1}),
                ("ExpectColumnValuesToBeInSet", {"column": "cited_outside", "value_set": [0]}),
            ],
            {"flagged_answers": int(flagged)},
        ),
        one_ic_snapshot(con, category),
    ]


# SQL decides this one: the snapshots the partition's scores name, and what each was built from.
_SNAPSHOTS_SQL = """
SELECT e.ic_snapshot, s.snapshot_id IS NOT NULL AS stored, s.mesh_sha256,
       s.mesh_sha256 IS NOT DISTINCT FROM (SELECT string_agg(DISTINCT source_sha256, ',')
                                           FROM mesh_descriptors) AS current_vocabulary
FROM (SELECT DISTINCT ic_snapshot FROM evaluated_qa
      WHERE category = ? AND ic_snapshot IS NOT NULL) e
LEFT JOIN mesh_ic_snapshots s ON s.snapshot_id = e.ic_snapshot
"""


def one_ic_snapshot(con: duckdb.DuckDBPyConnection, category: str) -> dg.AssetCheckResult:
    """Scores from two snapshots (or from another MeSH file) would not be comparable."""
    rows = con.execute(_SNAPSHOTS_SQL, [category]).fetchall()
    problems = [
        f"{snapshot}: " + ("not stored" if not stored else "built from another MeSH file")
        for snapshot, stored, _, current in rows
        if not (stored and current)
    ]
    passed = len(rows) <= 1 and not problems
    return dg.AssetCheckResult(
        check_name="one_ic_snapshot",
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "category": category,
            "snapshots": ", ".join(sorted(str(r[0]) for r in rows)),
            "mesh_sha256": ", ".join(sorted({str(r[2]) for r in rows})),
            "problems": "; ".join(problems) or "none",
        },
    )


def _scores_and_preferred(scores, preferred_per_source, category: str) -> dg.AssetCheckResult:
    # Two frames (per candidate, per source), one check: validate both, report both.
    first = run_check(
        "scores_in_range",
        scores,
        [
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "mesh_score", "min_value": 0.0, "max_value": 1.0},
            )
        ],
        {"category": category},
    )
    second = run_check(
        "scores_in_range",
        preferred_per_source,
        [("ExpectColumnValuesToBeInSet", {"column": "preferred", "value_set": [1]})],
    )
    metadata = {**first.metadata, **{f"preferred_{k}": v for k, v in second.metadata.items()}}
    return dg.AssetCheckResult(
        check_name="scores_in_range",
        passed=first.passed and second.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
