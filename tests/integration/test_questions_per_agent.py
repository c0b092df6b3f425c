"""MKAILIN_QUESTIONS_PER_AGENT: N questions per agent per abstract, through the real asset."""

from __future__ import annotations

import polars as pl

from mkailin_assets.agents.question_generation import (
    DEFAULT_QUESTION_AGENTS,
    build_question_requests,
    question_agents,
)
from mkailin_assets.resources.method import MethodConfig
from tests.harness import materialization_metadata, offline_sample_pipeline

CATEGORY = "Z"
ABSTRACT = pl.DataFrame(
    {
        "pmid": [1],
        "title": ["Exercise lowers blood pressure in older adults"],
        "abstract": ["We asked whether exercise lowers blood pressure. It did."],
        "descriptor_uis": [["D015444"]],
        "descriptor_names": [["Exercise"]],
    }
)


def test_the_number_is_part_of_each_request_and_so_of_its_cache_key() -> None:
    (one,) = build_question_requests(ABSTRACT, question_agents(1, DEFAULT_QUESTION_AGENTS[:1]))
    (two,) = build_question_requests(ABSTRACT, question_agents(2, DEFAULT_QUESTION_AGENTS[:1]))
    assert one.item_id == two.item_id
    assert (one.inputs["n"], two.inputs["n"]) == (1, 2)
    assert one.messages != two.messages  # "Write 2 research question(s)"
    assert question_agents(3)[1].questions_per_abstract == 3


def _questions(pipeline) -> pl.DataFrame:
    return pipeline.frame(
        "SELECT candidate_id, source_pmid, agent, question_index, question, llm_call_id "
        "FROM candidate_qa WHERE category = ? AND status = 'ok'",
        [CATEGORY],
    )


def test_two_questions_per_agent_give_twice_the_candidates(tmp_path) -> None:
    pipeline = offline_sample_pipeline(tmp_path / "two")
    before = _questions(pipeline)  # the template ran with the default, one question per agent
    assert before.height > 0
    assert set(before["question_index"]) == {0}

    result = pipeline.materialize(
        ["candidate_qa"], CATEGORY, method=MethodConfig(questions_per_agent=2)
    )
    after = _questions(pipeline)
    assert after.height == 2 * before.height
    assert materialization_metadata(result, "candidate_qa")["candidates_ok"] == after.height
    per_slot = after.group_by("source_pmid", "agent").agg(
        pl.col("question").n_unique().alias("questions"),
        pl.col("candidate_id").n_unique().alias("ids"),
        pl.col("llm_call_id").n_unique().alias("calls"),
    )
    # Two distinct questions per (abstract, agent), from one call that asked for both.
    assert per_slot["questions"].to_list() == [2] * per_slot.height
    assert per_slot["ids"].to_list() == [2] * per_slot.height
    assert per_slot["calls"].to_list() == [1] * per_slot.height
    # New cache keys: none of the one-question calls answered the two-question requests.
    assert not set(after["llm_call_id"]) & set(before["llm_call_id"])
    # The first question of each slot keeps its id, so downstream rows of index 0 are unchanged.
    first = after.filter(pl.col("question_index") == 0)
    assert set(first["candidate_id"]) == set(before["candidate_id"])
