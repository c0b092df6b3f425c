"""The answer agent (docs/method.md#answers): answer a preferred question from its contexts only.

The answer cites the PMIDs it used; for yes/no questions it also gives a PubMedQA-style final
decision. Answers are flagged, never dropped silently, when they are empty, say the contexts are
insufficient, cite nothing from the contexts, or cite PMIDs outside them (those are removed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from mkailin_assets.agents import offline_text as ot
from mkailin_assets.agents.prompts import ANSWER, DECISION_NONE, DECISION_YES_NO, format_contexts
from mkailin_assets.llm.offline import register_offline
from mkailin_assets.llm.types import LLMRequest, LLMResult

OFFLINE_SENTENCES = 2  # conclusion sentences in an offline answer
INSUFFICIENT_ANSWER = "The contexts do not contain enough information to answer the question."


class GroundedAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str
    cited_pmids: list[int]
    final_decision: Literal["yes", "no", "maybe", "none"]
    insufficient_context: bool


def is_yes_no_question(question: str) -> bool:
    """A question opening with an auxiliary ('Does X affect Y?'), as PubMedQA's are."""
    words = ot.normalise_space(question).split(" ", 1)
    return bool(words[0]) and words[0].lower() in ot.YES_NO_OPENERS


def _rows(rows: pl.DataFrame | Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    return rows.iter_rows(named=True) if isinstance(rows, pl.DataFrame) else rows


def build_answer_requests(rows: pl.DataFrame | Iterable[dict[str, Any]]) -> list[LLMRequest]:
    """One request per row (question, candidate_id, contexts [{pmid, title, abstract}]),
    item_id = candidate_id."""
    requests = []
    for row in _rows(rows):
        contexts = [
            {
                "pmid": int(c["pmid"]),
                "title": c.get("title") or "",
                "abstract": c.get("abstract") or "",
            }
            for c in (row.get("contexts") or [])
        ]
        yes_no = is_yes_no_question(row["question"])
        source_pmid = row.get("source_pmid")
        user = ANSWER.user.format(
            question=row["question"],
            decision_instruction=DECISION_YES_NO if yes_no else DECISION_NONE,
            contexts=format_contexts(contexts),
        )
        requests.append(
            LLMRequest(
                role="answer",
                item_id=str(row["candidate_id"]),
                messages=[
                    {"role": "system", "content": ANSWER.system},
                    {"role": "user", "content": user},
                ],
                response_model=GroundedAnswer,
                prompt_version=ANSWER.version,
                inputs={
                    "question": row["question"],
                    "contexts": contexts,
                    "yes_no": yes_no,
                    "source_pmid": int(source_pmid) if source_pmid is not None else None,
                },
            )
        )
    return requests


# --- offline implementation ------------------------------------------------------------------

_NEGATIVE = re.compile(r"\b(no|not|failed|did not)\b", re.IGNORECASE)
_HEDGED = re.compile(r"\b(may|might|unclear)\b", re.IGNORECASE)


def decision_from_text(text: str) -> str:
    """PubMedQA-style decision from cue words: negation -> no, hedging -> maybe, else yes."""
    if _NEGATIVE.search(text):
        return "no"
    if _HEDGED.search(text):
        return "maybe"
    return "yes"


def _offline_source(inputs: dict[str, Any]) -> dict[str, Any] | None:
    """The abstract the offline answer is built from: the question's source abstract when it is
    among the contexts (it usually is: the question was written from it), else the context that
    shares most words with the question. Never a mix of abstracts."""
    contexts = [c for c in inputs.get("contexts") or [] if (c.get("abstract") or "").strip()]
    source_pmid = inputs.get("source_pmid")
    for context in contexts:
        if source_pmid is not None and int(context["pmid"]) == int(source_pmid):
            return context
    if not contexts:
        return None
    question = inputs["question"]
    return max(contexts, key=lambda c: ot.word_overlap(question, c.get("abstract") or ""))


def offline_answer(inputs: dict[str, Any]) -> dict[str, Any]:
    """Extractive and honest: up to two conclusion sentences of one abstract (the source's), in
    the abstract's order, citing that abstract's PMID inline; a PubMedQA-style decision from cue
    words for a yes/no question and `none` for any other, the rule the real-model prompt gives
    (DECISION_YES_NO / DECISION_NONE; docs/method.md#answers). No model: it exists so the pipeline runs
    end to end without one, not to make good training data."""
    question = inputs["question"]
    # The real-model prompt's rule: only a yes/no question gets a yes/no/maybe decision.
    yes_no = inputs.get("yes_no", is_yes_no_question(question))
    source = _offline_source(inputs)
    sentences = ot.conclusion_sentences(source.get("abstract") or "") if source else []
    if not source or not sentences:
        return {
            "answer": INSUFFICIENT_ANSWER,
            "cited_pmids": [],
            "final_decision": "maybe" if yes_no else "none",
            "insufficient_context": True,
        }
    ranked = sorted(
        range(len(sentences)), key=lambda i: (-ot.word_overlap(question, sentences[i]), i)
    )
    chosen = sorted(ranked[:OFFLINE_SENTENCES])
    pmid = int(source["pmid"])
    answer = " ".join(sentences[i] for i in chosen).rstrip()
    return {
        "answer": f"{answer} [PMID {pmid}]",
        "cited_pmids": [pmid],
        # The decision follows the sentence closest to the question.
        "final_decision": decision_from_text(sentences[ranked[0]]) if yes_no else "none",
        "insufficient_context": False,
    }


# --- flags and rows --------------------------------------------------------------------------

_INSUFFICIENT_TEXT = re.compile(
    r"\b(?:insufficient|not (?:sufficient|enough)|inadequate)\s+(?:information|context|"
    r"contexts|evidence|data)\b"
    r"|\b(?:contexts?|information|evidence|abstracts?)\b[^.]{0,40}\b(?:is|are|were|was)\s+"
    r"(?:insufficient|not sufficient|inadequate)\b"
    r"|\b(?:do|does)\s+not\s+(?:contain|provide|include|give)\s+(?:enough|sufficient)\b"
    r"|\bcannot be (?:answered|determined) from\b",
    re.IGNORECASE,
)


def says_insufficient(text: str) -> bool:
    return bool(_INSUFFICIENT_TEXT.search(text or ""))


def valid_citations(parsed: GroundedAnswer, context_pmids: Iterable[int]) -> list[int]:
    """The cited PMIDs that are among the contexts, in citation order, without repeats."""
    allowed = {int(pmid) for pmid in context_pmids}
    return [pmid for pmid in dict.fromkeys(parsed.cited_pmids) if pmid in allowed]


def flag_answer(parsed: GroundedAnswer, context_pmids: Iterable[int]) -> str | None:
    """Why an answer is flagged ('empty', 'insufficient_context', 'no_citation',
    'cites_outside_context'; first that applies), or None when it is kept as it is."""
    allowed = {int(pmid) for pmid in context_pmids}
    if not parsed.answer.strip():
        return "empty"
    if parsed.insufficient_context or says_insufficient(parsed.answer):
        return "insufficient_context"
    if not any(pmid in allowed for pmid in parsed.cited_pmids):
        return "no_citation"
    if any(pmid not in allowed for pmid in parsed.cited_pmids):
        return "cites_outside_context"
    return None


def answers_from_results(
    requests: Sequence[LLMRequest], results: Sequence[LLMResult]
) -> list[dict[str, Any]]:
    """One row per request: candidate_id, answer, final_decision (None unless yes/no/maybe),
    cited_pmids (only those in the contexts), answer_flag, answer_model, answer_call_id,
    prompt_version, status (ok|failed), error. A failed call is flagged 'failed'."""
    if len(requests) != len(results):
        raise ValueError(f"{len(requests)} requests but {len(results)} results")
    rows = []
    for request, result in zip(requests, results, strict=True):
        context_pmids = [c["pmid"] for c in request.inputs.get("contexts") or []]
        row = {
            "candidate_id": request.item_id,
            "answer_model": result.model,
            "answer_call_id": result.call_id,
            "prompt_version": request.prompt_version,
        }
        if not result.ok or result.parsed is None:
            rows.append(
                {
                    **row,
                    "answer": None,
                    "final_decision": None,
                    "cited_pmids": [],
                    "answer_flag": "failed",
                    "status": "failed",
                    "error": result.error or "no parsed answer",
                }
            )
            continue
        parsed = result.parsed
        if not isinstance(parsed, GroundedAnswer):
            parsed = GroundedAnswer.model_validate(parsed.model_dump())
        decision = parsed.final_decision if parsed.final_decision != "none" else None
        rows.append(
            {
                **row,
                "answer": parsed.answer.strip(),
                "final_decision": decision,
                "cited_pmids": valid_citations(parsed, context_pmids),
                "answer_flag": flag_answer(parsed, context_pmids),
                "status": "ok",
                "error": None,
            }
        )
    return rows


register_offline("answer", offline_answer)
