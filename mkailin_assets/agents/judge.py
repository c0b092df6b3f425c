"""The evaluation agent as a pairwise judge (docs/method.md#the-judge).

Each pair of a source's candidates is judged twice, with the candidates' positions swapped, so a
model's preference for the first (or second) position cancels out: a verdict counts only when
both orders name the same winner. The offline judge has no opinion of its own: it returns the
cold-start label (carried in its inputs), or 'tie' when the pair is unlabelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from mkailin_assets.agents.preferences import VERDICT_SCHEMA
from mkailin_assets.agents.prompts import JUDGE, fence, format_contexts
from mkailin_assets.llm.offline import register_offline
from mkailin_assets.llm.types import OFFLINE_MODEL, LLMRequest, LLMResult

SNIPPET_CHARS = 600  # per context abstract in the judge prompt: enough to judge fit, not answer


class JudgeVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    better: Literal["A", "B", "tie"]
    reason: str


def _contexts(value: Any) -> list[dict[str, Any]]:
    return [dict(context) for context in (value or [])]


def build_judge_requests(pairs: pl.DataFrame) -> list[LLMRequest]:
    """Two requests per pair: item_ids f"{a}|{b}|ab" (A = a) and f"{a}|{b}|ba" (A = b).

    `pairs` has a_id, b_id, cold_start_winner (nullable), source_title, source_abstract,
    a_question, b_question, a_contexts, b_contexts (lists of {pmid, title, abstract}).
    """
    requests = []
    for row in pairs.iter_rows(named=True):
        candidates = {
            row["a_id"]: (row["a_question"], _contexts(row["a_contexts"])),
            row["b_id"]: (row["b_question"], _contexts(row["b_contexts"])),
        }
        source = (
            f"Title: {row.get('source_title') or ''}\nAbstract: {row.get('source_abstract') or ''}"
        )
        for order, (first, second) in (
            ("ab", (row["a_id"], row["b_id"])),
            ("ba", (row["b_id"], row["a_id"])),
        ):
            question_a, contexts_a = candidates[first]
            question_b, contexts_b = candidates[second]
            user = JUDGE.user.format(
                source_block=fence("SOURCE ABSTRACT", source),
                question_a=question_a,
                contexts_a=format_contexts(contexts_a, "CONTEXT", SNIPPET_CHARS),
                question_b=question_b,
                contexts_b=format_contexts(contexts_b, "CONTEXT", SNIPPET_CHARS),
            )
            requests.append(
                LLMRequest(
                    role="judge",
                    item_id=f"{row['a_id']}|{row['b_id']}|{order}",
                    messages=[
                        {"role": "system", "content": JUDGE.system},
                        {"role": "user", "content": user},
                    ],
                    response_model=JudgeVerdict,
                    prompt_version=JUDGE.version,
                    inputs={
                        "a_id": row["a_id"],
                        "b_id": row["b_id"],
                        "order": order,
                        "position_a": first,
                        "position_b": second,
                        "cold_start_winner": row.get("cold_start_winner"),
                    },
                )
            )
    return requests


def offline_judge(inputs: dict[str, Any]) -> dict[str, Any]:
    """The cold-start label in the position it has in this order; 'tie' when unlabelled."""
    winner = inputs.get("cold_start_winner")
    if winner is not None and winner == inputs["position_a"]:
        return {"better": "A", "reason": "offline: cold-start MeSH label"}
    if winner is not None and winner == inputs["position_b"]:
        return {"better": "B", "reason": "offline: cold-start MeSH label"}
    return {"better": "tie", "reason": "offline: no cold-start label for this pair"}


def _outcome(request: LLMRequest, result: LLMResult) -> str | None:
    """The winner's candidate id, 'tie', or None when the call failed."""
    if not result.ok or result.parsed is None:
        return None
    verdict = result.parsed
    if not isinstance(verdict, JudgeVerdict):
        verdict = JudgeVerdict.model_validate(verdict.model_dump())
    if verdict.better == "A":
        return request.inputs["position_a"]
    if verdict.better == "B":
        return request.inputs["position_b"]
    return "tie"


def combine_verdicts(requests: Sequence[LLMRequest], results: Sequence[LLMResult]) -> pl.DataFrame:
    """One row per pair: a_id, b_id, judge_winner (id when both orders name it, else null),
    judge_consistent (both orders returned and agree, ties included), judge_call_ids,
    judge_offline (every call answered by the offline backend)."""
    if len(requests) != len(results):
        raise ValueError(f"{len(requests)} requests but {len(results)} results")
    by_pair: dict[tuple[str, str], dict[str, Any]] = {}
    for request, result in zip(requests, results, strict=True):
        key = (request.inputs["a_id"], request.inputs["b_id"])
        entry = by_pair.setdefault(key, {"outcomes": {}, "call_ids": [], "offline": True})
        entry["offline"] = entry["offline"] and result.model == OFFLINE_MODEL
        entry["outcomes"][request.inputs["order"]] = _outcome(request, result)
        if result.call_id:
            entry["call_ids"].append(result.call_id)
    rows = []
    for (a_id, b_id), entry in by_pair.items():
        first, second = entry["outcomes"].get("ab"), entry["outcomes"].get("ba")
        consistent = first is not None and first == second
        rows.append(
            {
                "a_id": a_id,
                "b_id": b_id,
                "judge_winner": first if consistent and first != "tie" else None,
                "judge_consistent": consistent,
                "judge_call_ids": entry["call_ids"],
                "judge_offline": entry["offline"],
            }
        )
    return (
        pl.DataFrame(rows, schema=VERDICT_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=VERDICT_SCHEMA)
    )


def judge_agreement(verdicts: pl.DataFrame, pairs: pl.DataFrame) -> dict[str, Any]:
    """How often the judge's consistent winner equals the cold-start label, where both exist.

    Returns judged_pairs, consistent_pairs, consistency_rate, compared, agreed, agreement_rate
    (rates None when there is nothing to divide), offline_pairs. Offline verdicts only echo the
    cold-start label, so they are counted apart and left out of every rate. The caller reports it
    per category.
    """
    if "judge_offline" in verdicts.columns:
        offline_pairs = int(verdicts["judge_offline"].fill_null(False).sum())
        verdicts = verdicts.filter(~pl.col("judge_offline").fill_null(False))
    else:
        offline_pairs = 0
    joined = pairs.select("a_id", "b_id", "cold_start_winner").join(
        verdicts.select("a_id", "b_id", "judge_winner", "judge_consistent"),
        on=["a_id", "b_id"],
        how="inner",
    )
    judged = joined.height
    consistent = int(joined["judge_consistent"].fill_null(False).sum()) if judged else 0
    both = joined.filter(
        pl.col("judge_winner").is_not_null() & pl.col("cold_start_winner").is_not_null()
    )
    agreed = int((both["judge_winner"] == both["cold_start_winner"]).sum()) if both.height else 0
    return {
        "judged_pairs": judged,
        "consistent_pairs": consistent,
        "consistency_rate": consistent / judged if judged else None,
        "compared": both.height,
        "agreed": agreed,
        "agreement_rate": agreed / both.height if both.height else None,
        "offline_pairs": offline_pairs,
    }


register_offline("judge", offline_judge)
