"""candidate_qa and evaluated_qa through Dagster with the real `openai` client against the local
fake OpenAI-compatible server (issue 4): scripted answers per agent role, the rows they produce,
zero requests on a second run, retraction after a DeleteCitation, and faults.

The responder plays every role from what the prompt shows it: questions from the title, tagged
with the headings listed (plus one UI that is not listed, which must be dropped); a judge that
always prefers the clinical "Does the evidence show ..." question, whatever its position; answers
that cite the first context PMID of the prompt."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Fault
from tests.harness import (
    BASELINE_FILES,
    QA_ASSETS,
    UPDATE_FILE,
    Pipeline,
    check_outcomes,
    materialization_metadata,
    new_pipeline,
)

CATEGORIES = ["K", "L"]
RETRACTION_CATEGORY = "L"  # 90000046 (deleted by the update) is one of its sources
DELETED_SOURCE = 90000046
MODEL = "fake-qa-model"
UNLISTED_UI = "D999999"
CLINICAL_PREFIX = "Does the evidence show that"
MECHANISTIC_PREFIX = "What mechanism explains that"

_HEADING = re.compile(r"^- (D\d+):", re.MULTILINE)
_TITLE = re.compile(r"^Title: (.*)$", re.MULTILINE)
_CONTEXT_PMID = re.compile(r"^PMID (\d+):", re.MULTILINE)
_QUESTION = re.compile(r"^Question: (.*)$", re.MULTILINE)


def _user(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def schema_name(body: dict[str, Any]) -> str:
    return body["response_format"]["json_schema"]["name"]


def question_title(body: dict[str, Any]) -> str:
    return _TITLE.search(_user(body)).group(1)


def scripted_content(body: dict[str, Any]) -> str:
    user = _user(body)
    name = schema_name(body)
    if name == "QuestionSet":
        statement = question_title(body).rstrip(" .")
        statement = statement[0].lower() + statement[1:]
        prefix = MECHANISTIC_PREFIX if "about the mechanisms" in user else CLINICAL_PREFIX
        uis = _HEADING.findall(user)
        questions = [{"question": f"{prefix} {statement}?", "descriptor_uis": uis + [UNLISTED_UI]}]
        return json.dumps({"questions": questions})
    if name == "JudgeVerdict":
        second = user.split("Candidate B question:", 1)[1]
        better = "B" if second.lstrip().startswith(CLINICAL_PREFIX) else "A"
        return json.dumps({"better": better, "reason": "the clinical question is answerable"})
    if name == "GroundedAnswer":
        first = int(_CONTEXT_PMID.search(user).group(1))
        yes_no = "is a yes/no question" in user
        return json.dumps(
            {
                "answer": f"The abstract of PMID {first} reports findings that bear on it.",
                "cited_pmids": [first],
                "final_decision": "yes" if yes_no else "none",
                "insufficient_context": False,
            }
        )
    raise AssertionError(f"unexpected response schema {name}")


class RecordingResponder:
    """The scripted responder, keeping every request body it answered."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str:
        with self._lock:
            self.bodies.append(body)
        return scripted_content(body)

    def clear(self) -> None:
        with self._lock:
            self.bodies.clear()


def llm_env(server: FakeOpenAIServer) -> dict[str, str]:
    return {
        "MKAILIN_LLM_BACKEND": "openai",
        "MKAILIN_LLM_BASE_URL": server.url,
        "MKAILIN_LLM_API_KEY": "sk-test-mkailin-qa",
        "MKAILIN_LLM_MODEL": MODEL,
    }


def zip_keys(candidates: pl.DataFrame) -> list[tuple[str, tuple[int, ...]]]:
    """(candidate_id, contexts in rank order) per candidate row."""
    return [
        (candidate_id, tuple(pmids))
        for candidate_id, pmids in zip(
            candidates["candidate_id"], candidates["context_pmids"], strict=True
        )
    ]


def context_keys(candidates: pl.DataFrame) -> set[tuple[str, tuple[int, ...]]]:
    return set(zip_keys(candidates))


def table(pipeline: Pipeline, name: str, category: str) -> pl.DataFrame:
    return pipeline.frame(
        f"SELECT * FROM {name} WHERE category = ? ORDER BY ALL",  # name: a constant of this test
        [category],
    )


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeOpenAIServer, RecordingResponder]]:
    responder = RecordingResponder()
    with FakeOpenAIServer(seed=7, responder=responder) as fake:
        yield fake, responder


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Pipeline:
    """Baseline files only, raw_abstracts of K and L (offline: no LLM is involved yet)."""
    pipeline = new_pipeline(tmp_path_factory.mktemp("qa_ingest"))
    pipeline.ingest(CATEGORIES, BASELINE_FILES)
    return pipeline


@pytest.fixture(scope="module")
def distilled(ingested, server, tmp_path_factory) -> dict[str, Any]:
    fake, responder = server
    pipeline = ingested.copy_to(tmp_path_factory.mktemp("qa_server"), **llm_env(fake))
    fake.reset_stats()
    runs = {c: pipeline.materialize(QA_ASSETS, c) for c in CATEGORIES}
    return {"pipeline": pipeline, "runs": runs, "requests": fake.stats.total}


def test_every_qa_check_passed_and_the_server_answered_every_role(distilled):
    for letter, result in distilled["runs"].items():
        outcomes = check_outcomes(result)
        assert len(outcomes) == 8 and all(outcomes.values()), (letter, outcomes)
    pipeline: Pipeline = distilled["pipeline"]
    calls = dict(
        pipeline.rows("SELECT role, count(*) FROM llm_calls WHERE status = 'ok' GROUP BY role")
    )
    assert set(calls) == {"question:mechanistic", "question:clinical", "judge", "answer"}
    assert pipeline.rows("SELECT DISTINCT model, via FROM llm_calls") == [(MODEL, "request")]
    assert distilled["requests"] == sum(calls.values())  # each call reached the server once
    meta = materialization_metadata(distilled["runs"]["L"], "candidate_qa")
    assert meta[f"openai.{MODEL}.calls"] > 0


def test_each_stage_takes_the_writer_twice_the_checks_rows_read_in_the_write_phase(distilled):
    """Read, then write (the partition and, after it, the rows the checks validate): no third
    phase to claim, open and hand on; the checks above passed on the rows read that way."""
    for letter, result in distilled["runs"].items():
        for stage in ("candidate_qa", "evaluated_qa"):
            phases = materialization_metadata(result, stage)["writer.phases"]
            assert re.findall(r"(?:^|, )(\w+) [\d.]+s", phases) == ["read", "write"], (
                letter,
                stage,
            )


def test_candidate_rows(distilled):
    pipeline: Pipeline = distilled["pipeline"]
    for letter in CATEGORIES:
        candidates = table(pipeline, "candidate_qa", letter)
        sources = pipeline.frame(
            "SELECT pmid, title, descriptor_uis FROM raw_abstracts WHERE category = ?", [letter]
        )
        # Two agents, one question each, for every abstract of the category.
        assert candidates.height == 2 * sources.height
        assert candidates["status"].unique().to_list() == ["ok"]
        assert sorted(candidates["agent"].unique()) == ["clinical", "mechanistic"]
        known = {
            r[0]
            for r in pipeline.rows(
                "SELECT descriptor_ui FROM mesh_descriptors WHERE len(tree_numbers) > 0"
            )
        }
        headings = dict(zip(sources["pmid"], sources["descriptor_uis"], strict=True))
        for row in candidates.iter_rows(named=True):
            assert row["question"].endswith("?")
            assert row["question"].startswith((CLINICAL_PREFIX, MECHANISTIC_PREFIX))
            assert row["model"] == MODEL
            tags = set(row["question_descriptors"])
            assert tags and tags <= set(headings[row["source_pmid"]]) & known
            assert UNLISTED_UI not in tags and row["dropped_descriptors"] >= 1
            assert 1 <= len(row["context_pmids"]) <= 4
            assert len(row["context_scores"]) == len(row["context_pmids"])
        missing = pipeline.scalar(
            "SELECT count(*) FROM candidate_qa q, unnest(q.context_pmids) AS u(p) "
            "WHERE u.p NOT IN (SELECT pmid FROM citations)"
        )
        assert missing == 0


def test_evaluated_rows_and_preferences(distilled):
    pipeline: Pipeline = distilled["pipeline"]
    for letter in CATEGORIES:
        evaluated = table(pipeline, "evaluated_qa", letter)
        pairs = table(pipeline, "preference_pairs", letter)
        assert evaluated.height == table(pipeline, "candidate_qa", letter).height
        scores = evaluated["mesh_score"].drop_nulls()
        assert scores.len() > 0 and scores.min() >= 0.0 and scores.max() <= 1.0
        per_source = evaluated.group_by("source_pmid").agg(pl.col("is_preferred").sum())
        assert per_source["is_preferred"].to_list() == [1] * per_source.height

        preferred = evaluated.filter(pl.col("is_preferred"))
        # The judge prefers the clinical question in both orders, so it decides every source.
        assert preferred["question"].str.starts_with(CLINICAL_PREFIX).all()
        assert preferred["preference_source"].unique().to_list() == ["judge"]
        for row in preferred.iter_rows(named=True):
            assert row["answer_flag"] is None and row["answer"]
            assert row["cited_pmids"] == [row["context_pmids"][0]]
            assert row["answer_model"] == MODEL
            assert row["final_decision"] == "yes"  # "Does ..." is a yes/no question
        assert evaluated.filter(~pl.col("is_preferred"))["answer"].null_count() == (
            evaluated.height - preferred.height
        )

        # One labelled pair per source (two candidates), chosen != rejected, from the judge.
        assert pairs.height == per_source.height
        assert (pairs["chosen_id"] != pairs["rejected_id"]).all()
        assert pairs["label_source"].unique().to_list() == ["judge"]
        assert pairs["judge_consistent"].all()
        assert (pairs["judge_verdict"] == pairs["chosen_id"]).all()
        assert set(pairs["chosen_id"]) == set(preferred["candidate_id"])
        assert pairs["judge_call_ids"].list.len().unique().to_list() == [2]


def test_second_materialization_sends_zero_requests(distilled, server):
    fake, _ = server
    pipeline: Pipeline = distilled["pipeline"]
    before = {
        (name, c): table(pipeline, name, c)
        for name in ("candidate_qa", "evaluated_qa", "preference_pairs")
        for c in CATEGORIES
    }
    fake.reset_stats()
    for letter in CATEGORIES:
        result = pipeline.materialize(QA_ASSETS, letter)
        meta = materialization_metadata(result, "candidate_qa")
        assert (meta["rows_inserted"], meta["rows_deleted"]) == (0, 0)
        changed = materialization_metadata(result, "evaluated_qa")["rows_changed"]
        assert changed == {"inserted": 0, "deleted": 0, "pairs_inserted": 0, "pairs_deleted": 0}
    assert fake.stats.total == 0
    for (name, letter), frame in before.items():
        assert table(pipeline, name, letter).equals(frame), (name, letter)


def test_deleted_citation_is_retracted_and_only_changes_cost_requests(distilled, server):
    fake, responder = server
    pipeline: Pipeline = distilled["pipeline"]
    letter = RETRACTION_CATEGORY
    sources_before = dict(
        pipeline.rows("SELECT pmid, content_hash FROM raw_abstracts WHERE category = ?", [letter])
    )
    candidates_before = table(pipeline, "candidate_qa", letter)
    assert DELETED_SOURCE in sources_before
    pointing = candidates_before.filter(
        pl.col("context_pmids").list.contains(DELETED_SOURCE)
        & (pl.col("source_pmid") != DELETED_SOURCE)
    )
    assert pointing.height > 0  # the deleted abstract was a context of another source's question

    pipeline.load_files([UPDATE_FILE])  # no LLM call: ingest only
    fake.reset_stats()
    responder.clear()
    result = pipeline.materialize(["raw_abstracts", *QA_ASSETS], letter)
    assert all(check_outcomes(result).values())

    sources_after = dict(
        pipeline.rows("SELECT pmid, content_hash FROM raw_abstracts WHERE category = ?", [letter])
    )
    changed = {p for p, h in sources_after.items() if sources_before.get(p) != h}
    assert DELETED_SOURCE not in sources_after
    assert {90000021, 90000068} <= changed  # revised abstract; new citation (update file)

    # No row anywhere in the category references the deleted PMID as source or context.
    for name in ("candidate_qa", "evaluated_qa"):
        rows = table(pipeline, name, letter)
        assert DELETED_SOURCE not in rows["source_pmid"].to_list()
        assert not rows["context_pmids"].list.contains(DELETED_SOURCE).any()
    pairs = table(pipeline, "preference_pairs", letter)
    assert DELETED_SOURCE not in pairs["source_pmid"].to_list()

    # Contexts that pointed at it were retrieved again for the same (unchanged) candidates.
    after = table(pipeline, "candidate_qa", letter)
    for row in pointing.iter_rows(named=True):
        (fresh,) = after.filter(pl.col("candidate_id") == row["candidate_id"]).rows(named=True)
        assert DELETED_SOURCE not in fresh["context_pmids"]
        assert len(fresh["context_pmids"]) == len(row["context_pmids"])

    # Requests: two questions per changed or new source, nothing for unchanged sources; the
    # judge only for sources with a new candidate or re-retrieved contexts, answers only for
    # such preferred candidates. Everything else is answered from the cache.
    bodies = responder.bodies
    assert fake.stats.total == len(bodies) > 0
    titles = dict(pipeline.rows("SELECT title, pmid FROM citations"))
    by_role: dict[str, list[str]] = {}
    for body in bodies:
        by_role.setdefault(schema_name(body), []).append(_user(body))
    asked = [titles[_TITLE.search(user).group(1)] for user in by_role["QuestionSet"]]
    assert sorted(asked) == sorted(2 * list(changed))

    old = context_keys(candidates_before)
    touched = after.filter(pl.Series([key not in old for key in zip_keys(after)], dtype=pl.Boolean))
    touched_sources = set(touched["source_pmid"])
    assert touched_sources > changed  # re-retrieved contexts of unchanged sources count too
    judged = [titles[_TITLE.search(user).group(1)] for user in by_role["JudgeVerdict"]]
    assert sorted(judged) == sorted(2 * list(touched_sources))  # both position orders
    evaluated = table(pipeline, "evaluated_qa", letter)
    preferred_touched = evaluated.filter(
        pl.col("is_preferred") & pl.col("candidate_id").is_in(touched["candidate_id"].implode())
    )
    answered = [_QUESTION.search(user).group(1) for user in by_role["GroundedAnswer"]]
    assert sorted(answered) == sorted(preferred_touched["question"])


class PositionBiasedResponder(RecordingResponder):
    """As the scripted responder, but the judge always picks the candidate shown first."""

    def __call__(self, body: dict[str, Any]) -> str:
        if schema_name(body) == "JudgeVerdict":
            return json.dumps({"better": "A", "reason": "the first one"})
        return super().__call__(body)


def test_assets_complete_with_a_fifth_of_requests_failing(ingested, tmp_path):
    responder = PositionBiasedResponder()
    with FakeOpenAIServer(seed=11, responder=responder) as fake:
        # About 20% of attempts fail (10% 429, 10% 500); retries are told to come back at once.
        fake.add_fault(Fault("429", probability=0.1, retry_after="0"))
        fake.add_fault(Fault("500", probability=0.1, retry_after="0"))
        pipeline = ingested.copy_to(tmp_path / "faults", **llm_env(fake))
        result = pipeline.materialize(QA_ASSETS, "K")
        assert result.success and all(check_outcomes(result).values())
        assert fake.stats.faults["429"] > 0 and fake.stats.faults["500"] > 0
        failed = pipeline.scalar("SELECT count(*) FROM llm_calls WHERE status <> 'ok'")
        assert failed == 0
        evaluated = table(pipeline, "evaluated_qa", "K")
        assert evaluated.filter(
            pl.col("is_preferred") & pl.col("answer_flag").is_null()
        ).height == (evaluated["source_pmid"].n_unique())
        # Every failed attempt was retried: the server saw more requests than calls it answered.
        calls = pipeline.scalar("SELECT count(*) FROM llm_calls")
        assert fake.stats.total == calls + sum(fake.stats.faults.values())
        # The two orders never agree, so no judge label is recorded: cold-start labels only.
        pairs = table(pipeline, "preference_pairs", "K")
        assert pairs["judge_verdict"].null_count() == pairs.height
        assert not pairs["judge_consistent"].any()
        assert set(pairs["label_source"]) <= {"cold_start"}
        sources = evaluated["source_pmid"].n_unique()
        judged = pipeline.scalar("SELECT count(*) FROM llm_calls WHERE role = 'judge'")
        assert judged == 2 * sources  # one pair per source, both orders asked
        assert set(evaluated["preference_source"].drop_nulls()) <= {"cold_start", "score", "tie"}


def test_dense_retrieval_embeds_outside_the_writer_and_a_rerun_sends_nothing(
    ingested, server, tmp_path_factory
):
    """Dense retrieval's calls (the corpus's new vectors, the new questions' vectors) are made
    between the writer phases like the question calls, cached, and not sent again."""
    from mkailin_assets.resources.method import MethodConfig

    fake, _ = server
    pipeline = ingested.copy_to(tmp_path_factory.mktemp("qa_dense"), **llm_env(fake))
    pipeline.method = MethodConfig(retrieval_method="dense")
    fake.reset_stats()
    result = pipeline.materialize(["candidate_qa"], "K")
    meta = materialization_metadata(result, "candidate_qa")
    assert meta["candidates_ok"] > 0 and meta["contexts_retrieved"] == meta["candidates_ok"]
    phases = meta["writer.phases"]
    assert re.findall(r"(?:^|, )(\w+) [\d.]+s", phases) == ["read", "write", "write"], phases
    embedded = fake.stats.by_path["/v1/embeddings"]
    assert embedded > 0
    rows = pipeline.frame(
        "SELECT retrieval_method, len(context_pmids) AS n FROM candidate_qa WHERE category = 'K'"
    )
    assert rows["retrieval_method"].unique().to_list() == ["dense"]
    assert rows["n"].min() >= 1
    fake.reset_stats()
    again = materialization_metadata(pipeline.materialize(["candidate_qa"], "K"), "candidate_qa")
    assert fake.stats.total == 0 and again["llm.requests_sent"] == 0
