"""Held-out splits never leak through contexts: retrieval draws only on citations of the
record's own split (by the same hash that assigns splits), reused contexts that break the rule
are retrieved again, and training_set's blocking check finds any record that breaks it."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import polars as pl
import pytest

from mkailin_assets.agents.retrieval import refresh_bm25_index, retrieve
from mkailin_assets.checks.training_checks import no_context_from_another_split
from mkailin_assets.curation.splits import DEFAULT_RATIOS, SplitRule, assign_splits
from mkailin_assets.db import apply_schema, insert_frame, open_connection
from mkailin_assets.stages.split_retrieval import split_safe_contexts, split_safe_reused
from tests.unit.test_retrieval import upsert_citation

RULE = SplitRule(DEFAULT_RATIOS)
PMIDS = list(range(1, 401))


def test_the_rule_uses_the_split_assignment():
    frame = assign_splits(pl.DataFrame({"source_pmid": PMIDS}))
    assert RULE.splits_of(PMIDS).to_list() == frame["split"].to_list()
    assert set(frame["split"]) == {"train", "validation", "test"}


def test_foreign_contexts_are_named():
    splits = dict(zip(PMIDS, RULE.splits_of(PMIDS).to_list(), strict=True))
    train = next(p for p in PMIDS if splits[p] == "train")
    held = next(p for p in PMIDS if splits[p] == "test")
    frame = pl.DataFrame({"source_pmid": [train, held], "context_pmids": [[train, held], [held]]})
    foreign = RULE.foreign_contexts(frame)
    assert foreign.select("row", "pmid", "pmid_split").rows() == [(0, held, "test")]


@pytest.fixture
def con(tmp_db) -> duckdb.DuckDBPyConnection:
    connection = open_connection(tmp_db)
    apply_schema(connection)
    connection.complete()
    # 400 abstracts that all match the question: its top hits cross every split.
    for pmid in PMIDS:
        upsert_citation(connection, pmid, f"Sepsis study {pmid}", "Lactate predicts sepsis.")
    refresh_bm25_index(connection)
    yield connection
    connection.close()


def _questions(sources: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "candidate_id": [f"c{p}" for p in sources],
            "question": ["Does lactate predict sepsis?"] * len(sources),
            "source_pmid": sources,
        }
    )


def test_retrieval_draws_only_on_the_records_split(con):
    splits = dict(zip(PMIDS, RULE.splits_of(PMIDS).to_list(), strict=True))
    sources = [next(p for p in PMIDS if splits[p] == s) for s in ("train", "validation", "test")]
    # Unconstrained, the question's top hits cross the splits.
    top = retrieve(con, pl.DataFrame({"query_id": ["q"], "text": ["lactate sepsis"]}), k=40)
    assert {splits[p] for p in top["pmid"]} > {"train"}
    contexts = split_safe_contexts(con, _questions(sources), RULE, "bm25", 4)
    assert contexts["candidate_id"].to_list() == [f"c{p}" for p in sources]
    for source, pmids in zip(sources, contexts["context_pmids"].to_list(), strict=True):
        assert len(pmids) == 4 and {splits[p] for p in pmids} == {splits[source]}
    # Excluded PMIDs stay excluded; the order within the split is BM25's.
    excluded = set(contexts["context_pmids"][1][:2])
    again = split_safe_contexts(con, _questions(sources), RULE, "bm25", 4, exclude_pmids=excluded)
    assert not excluded & set(again["context_pmids"][1]) and len(again["context_pmids"][1]) == 4


def test_reused_contexts_of_another_split_are_retrieved_again():
    splits = dict(zip(PMIDS, RULE.splits_of(PMIDS).to_list(), strict=True))
    train = [p for p in PMIDS if splits[p] == "train"][:3]
    held = next(p for p in PMIDS if splits[p] == "validation")
    reused = pl.DataFrame(
        {"candidate_id": ["a", "b"], "context_pmids": [[train[1], train[2]], [train[1], held]]}
    )
    sources = pl.DataFrame({"candidate_id": ["a", "b"], "source_pmid": [train[0], train[0]]})
    assert split_safe_reused(reused, sources, RULE)["candidate_id"].to_list() == ["a"]


def test_the_blocking_check_fails_on_a_context_of_another_split(con):
    splits = dict(zip(PMIDS, RULE.splits_of(PMIDS).to_list(), strict=True))
    train = [p for p in PMIDS if splits[p] == "train"][:2]
    held = next(p for p in PMIDS if splits[p] == "test")
    rows = pl.DataFrame(
        {
            "category": ["K", "K"],
            "record_id": ["sft:K:a", "dpo:K:b"],
            "kind": ["sft", "dpo"],
            "split": ["train", "train"],
            "source_pmid": train,
            "context_pmids": [[train[1]], [train[0]]],
            "record": [json.dumps({}), json.dumps({"rejected_context_pmids": [held]})],
            "provenance": ["{}", "{}"],
            "created_at": [datetime(2026, 1, 1)] * 2,
        }
    )
    insert_frame(con, "training_set", rows.head(1))
    assert no_context_from_another_split(con, "K", DEFAULT_RATIOS).passed
    insert_frame(con, "training_set", rows.tail(1))
    result = no_context_from_another_split(con, "K", DEFAULT_RATIOS)
    assert not result.passed and result.metadata["violations"].value == 1
    assert result.metadata["examples"].data == [
        {"record_id": "dpo:K:b", "split": "train", "pmid": held, "pmid_split": "test"}
    ]


def test_many_questions_of_every_split_each_stay_in_their_split(con):
    splits = dict(zip(PMIDS, RULE.splits_of(PMIDS).to_list(), strict=True))
    sources = PMIDS[::3]  # 134 questions, their hits joined back to their splits
    contexts = split_safe_contexts(con, _questions(sources), RULE, "bm25", 4)
    assert contexts.height == len(sources)
    for candidate, pmids in zip(contexts["candidate_id"], contexts["context_pmids"], strict=True):
        source = int(candidate[1:])
        assert len(pmids) == 4 and {splits[p] for p in pmids} == {splits[source]}, candidate
