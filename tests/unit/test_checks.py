"""Each data-quality check on its own: it passes on sound rows and fails on the one fault it
names. The counts-only checks need no GX; one GX-backed check shows both parts of a mixed one."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from mkailin_assets.checks.ingest_checks import (
    abstracts_reachable_from_category,
    citations_placed_in_categories,
    ledger_reconciles,
)
from mkailin_assets.checks.qa_checks import (
    failure_rate_acceptable,
    question_descriptors_in_tree,
    scores_in_range,
)
from mkailin_assets.checks.training_checks import (
    minimum_records,
    no_benchmark_pmids,
    no_duplicates_left,
    no_pmid_in_two_splits,
    split_ratios_within_tolerance,
)

RATIOS = {"train": 0.9, "validation": 0.05, "test": 0.05}


@pytest.fixture
def con(schema_con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return schema_con


def _ledger(con, name: str, read: int, upserted: int, md5: str | None, verified: bool) -> None:
    con.execute(
        """INSERT INTO pubmed_files VALUES (?, 'baseline', 'src', ?, ?, 'sha', 1, ?, ?, 0, 0, 0, 0,
               [], now())""",
        [name, md5, verified, read, upserted],
    )


def test_ledger_reconciles_only_when_counts_add_up_and_the_md5_matched(con):
    _ledger(con, "good.xml.gz", 10, 10, "abc", True)
    _ledger(con, "short.xml.gz", 10, 9, None, False)
    _ledger(con, "unverified.xml.gz", 10, 10, "abc", False)
    assert ledger_reconciles(con, "good.xml.gz").passed
    short = ledger_reconciles(con, "short.xml.gz")
    assert not short.passed and short.metadata["accounted"].value == 9
    assert not ledger_reconciles(con, "unverified.xml.gz").passed
    assert not ledger_reconciles(con, "never-loaded.xml.gz").passed


def test_abstracts_must_reach_their_category(con):
    for pmid, trees in ((1, ["K01.100"]), (2, ["K01", "H02.403"])):
        con.execute(
            "INSERT INTO raw_abstracts VALUES ('K', ?, 't', 'a', [], [], ?, 'h', now())",
            [pmid, trees],
        )
    assert abstracts_reachable_from_category(con, "K").passed
    con.execute("INSERT INTO raw_abstracts VALUES ('K', 3, 't', 'a', [], [], ['H02'], 'h', now())")
    result = abstracts_reachable_from_category(con, "K")
    assert not result.passed and result.metadata["violations"].value == 1


def _candidate(con, candidate: str, status: str, descriptors: list[str]) -> None:
    con.execute(
        """INSERT INTO candidate_qa (category, candidate_id, source_pmid, source_hash, agent, model,
               prompt_version, question_index, question, question_descriptors, dropped_descriptors,
               context_pmids, retrieval_method, status, created_at)
           VALUES ('K', ?, 1, 'h', 'a', 'm', 'v1', 0, 'Why?', ?, 0, [1], 'bm25', ?, now())""",
        [candidate, descriptors, status],
    )


def test_failure_rate_and_descriptors_in_tree(con):
    con.execute("INSERT INTO mesh_descriptors VALUES ('D000001', 'x', NULL, ['K01'], 2026, 's')")
    con.execute("INSERT INTO mesh_descriptors VALUES ('D000002', 'y', NULL, [], 2026, 's')")
    for number in range(3):
        _candidate(con, f"ok{number}", "ok", ["D000001"])
    _candidate(con, "failed", "failed", ["D000009"])  # failed rows are not checked for descriptors
    assert failure_rate_acceptable(con, "K", 0.25).passed  # 1 of 4
    assert not failure_rate_acceptable(con, "K", 0.2).passed
    assert failure_rate_acceptable(con, "Z", 0.0).passed  # nothing to fail
    assert question_descriptors_in_tree(con, "K").passed
    _candidate(con, "treeless", "ok", ["D000001", "D000002"])  # known, but not in the tree
    assert question_descriptors_in_tree(con, "K").metadata["violations"].value == 1


def _evaluated(con, candidate: str, source: int, score: float, preferred: bool) -> None:
    con.execute(
        """INSERT INTO evaluated_qa (category, candidate_id, source_pmid, question, agent, model,
               prompt_version, context_pmids, mesh_score, contexts_with_mesh, contexts_without_mesh,
               is_preferred, source_hash, created_at)
           VALUES ('K', ?, ?, 'Why?', 'a', 'm', 'v1', [1], ?, 1, 0, ?, 'h', now())""",
        [candidate, source, score, preferred],
    )


def test_scores_in_range_wants_sane_scores_and_one_preferred_per_source(con):
    _evaluated(con, "a", 1, 0.4, True)
    _evaluated(con, "b", 1, 0.2, False)
    assert scores_in_range(con, "K")().passed
    _evaluated(con, "c", 1, 0.3, True)  # a second preferred candidate for source 1
    second = scores_in_range(con, "K")()
    assert not second.passed and second.metadata["sources_without_one_preferred"].value == 1
    con.execute("DELETE FROM evaluated_qa WHERE candidate_id = 'c'")
    _evaluated(con, "d", 2, 1.5, True)  # out of range
    third = scores_in_range(con, "K")()
    assert not third.passed and third.metadata["gx_unsuccessful"].value == 1


def test_qa_checks_read_their_rows_first_and_validate_without_the_database(con):
    """The LLM stages read the checks' rows holding the writer and validate after freeing it:
    validation must not touch the connection, and sees the rows as they were when read."""
    _evaluated(con, "a", 1, 0.4, True)
    pending = scores_in_range(con, "K")
    _evaluated(con, "d", 2, 1.5, True)  # out of range, but written after the read
    con.close()
    assert pending().passed


def _record(con, category: str, record_id: str, split: str, source: int, question: str) -> None:
    con.execute(
        "INSERT INTO training_set VALUES (?, ?, 'sft', ?, ?, [?], ?, '{}', '{}', now())",
        [category, record_id, split, source, source + 1000, question],
    )


def test_training_counts_find_leaks_duplicates_and_benchmark_pmids(con):
    _record(con, "K", "sft:K:c1", "train", 1, "Does aspirin help?")
    _record(con, "H", "sft:H:c1", "train", 1, "Does aspirin help?")  # membership, not a copy
    _record(con, "K", "sft:K:c2", "test", 2, "Is sleep needed?")
    _record(con, "H", "sft:H:c4", "test", 4, "Is sleep needed?")  # a twin in another category
    assert no_pmid_in_two_splits(con).passed
    assert no_duplicates_left(con, "K").passed and no_duplicates_left(con, "H").passed
    assert no_benchmark_pmids(con, "K", {99}).passed
    assert not no_benchmark_pmids(con, "K", {1002}).passed  # a context PMID is listed

    _record(con, "H", "sft:H:c3", "test", 1, "Is  sleep NEEDED?")  # source 1 now in two splits
    assert not no_pmid_in_two_splits(con).passed
    assert no_duplicates_left(con, "K").passed
    duplicates = no_duplicates_left(con, "H")
    assert not duplicates.passed and duplicates.metadata["violations"].value == 1


def test_split_shares_and_minimum_records():
    assert split_ratios_within_tolerance(RATIOS, {"train": 90, "validation": 5, "test": 5}).passed
    skewed = split_ratios_within_tolerance(RATIOS, {"train": 50, "test": 50})
    assert not skewed.passed and skewed.metadata["outside_tolerance"].value == "train, test"
    assert split_ratios_within_tolerance(RATIOS, {}).passed  # nothing to judge
    assert minimum_records(3, 3).passed and not minimum_records(2, 3).passed


def _citation(con, pmid: int, descriptor_ui: str, source_file: str = "f") -> None:
    con.execute(
        """INSERT INTO citations (pmid, version, mesh_headings, source_file, content_hash, loaded_at)
           VALUES (?, 1, [{'descriptor_ui': ?, 'name': 'n', 'major_topic': true, 'qualifiers': []}],
                   ?, 'h', now())""",
        [pmid, descriptor_ui, source_file],
    )
    con.execute("INSERT INTO citation_mesh VALUES (?, ?, true)", [pmid, descriptor_ui])


def test_citations_outside_every_category_block_only_while_no_vocabulary_is_loaded(con):
    _citation(con, 1, "D000001")
    _citation(con, 2, "D999999")
    before = citations_placed_in_categories(con, "f")  # the first-start trap: blocks (ERROR)
    assert not before.passed and before.severity == dg.AssetCheckSeverity.ERROR
    assert before.metadata["violations"].value == 2
    assert "no MeSH vocabulary loaded" in before.metadata["if_failed"].value
    con.execute("INSERT INTO mesh_vocabulary VALUES ('A', 'A01', 'D000001', 'x', 1, NULL, 2024)")
    gap = citations_placed_in_categories(con, "f")  # a heading unknown to the vocabulary: WARN
    assert not gap.passed and gap.severity == dg.AssetCheckSeverity.WARN
    assert gap.metadata["violations"].value == 1
    con.execute("INSERT INTO mesh_vocabulary VALUES ('B', 'B01', 'D999999', 'y', 1, NULL, 2024)")
    assert citations_placed_in_categories(con, "f").passed
    # Each file answers for its own citations (the check reads no other file's rows).
    _citation(con, 3, "D777777", source_file="g")
    assert citations_placed_in_categories(con, "f").passed
    assert citations_placed_in_categories(con, "g").metadata["violations"].value == 1
