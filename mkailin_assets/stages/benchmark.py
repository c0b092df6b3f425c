"""benchmark_eval: ask one model every PubMedQA setting through the LLM client, parse, score, store.

The client caches every answer in llm_calls, so a re-run sends nothing; a budget stop or too many
failures still yields figures over the items answered, marked partial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from mkailin_assets.agents.retrieval import refresh_bm25_index, retrieve
from mkailin_assets.db import insert_frame, query_pl, transaction
from mkailin_assets.evaluation.config import EvalModel
from mkailin_assets.evaluation.offline_rule import offline_answer
from mkailin_assets.evaluation.parsing import parse_answer
from mkailin_assets.evaluation.prompts import (
    BENCHMARK_OF,
    PROMPT_VERSION,
    RETRIEVED,
    ROLE,
    SETTINGS,
    messages,
)
from mkailin_assets.evaluation.pubmedqa import PubMedQAItem
from mkailin_assets.evaluation.result_scope import asked_scopes, full_sizes
from mkailin_assets.evaluation.scoring import CI_METHOD, score
from mkailin_assets.llm.accounting import BudgetExhausted
from mkailin_assets.llm.client import LLMFailureRateExceeded
from mkailin_assets.llm.offline import register_offline
from mkailin_assets.llm.types import LLMRequest, LLMResult

Contexts = dict[int, list[tuple[int, str]]]  # question PMID -> [(context PMID, text)] in rank order

ANSWER_SCHEMA = {
    "run_id": pl.String,
    "model": pl.String,
    "benchmark": pl.String,
    "setting": pl.String,
    "pmid": pl.Int64,
    "split": pl.String,
    "gold": pl.String,
    "answer": pl.String,
    "parse": pl.String,
    "raw_text": pl.String,
    "context_pmids": pl.List(pl.Int64),
    "status": pl.String,
    "call_id": pl.String,
    "created_at": pl.Datetime("us"),
}

# The built-in `offline` model answers with a deterministic rule (evaluation/offline_rule.py).
register_offline(ROLE, offline_answer)


@dataclass
class BenchmarkRun:
    answers: pl.DataFrame
    results: pl.DataFrame
    partial: bool
    stopped: str | None = None  # why sending stopped early (budget, failures)
    retrieval: dict[str, Any] = field(default_factory=dict)


# ---- PubMedQA*: contexts from our own corpus -----------------------------------------------


def retrieved_contexts(
    con: duckdb.DuckDBPyConnection, items: Sequence[PubMedQAItem], k: int
) -> tuple[Contexts, dict[str, Any]]:
    """Top-k abstracts of the ingested corpus per question, the question's own PMID excluded
    (only that one: the evaluation path may retrieve other benchmark citations)."""
    report = refresh_bm25_index(con)
    if not items:
        return {}, report
    queries = pl.DataFrame(
        {"query_id": [str(i.pmid) for i in items], "text": [i.question for i in items]}
    )
    # One more than k, then the own PMID dropped: exact whatever the retrieval engine.
    hits = retrieve(con, queries, method="bm25", k=k + 1)
    kept = (
        hits.filter(pl.col("pmid") != pl.col("query_id").cast(pl.Int64))
        .sort("query_id", "rank")
        .group_by("query_id", maintain_order=True)
        .head(k)
    )
    texts = query_pl(
        con,
        "SELECT pmid, concat_ws(' ', title, abstract) AS text FROM citations"
        " WHERE pmid IN (SELECT unnest($pmids))",
        {"pmids": kept["pmid"].unique().to_list()},
    )
    by_pmid = dict(zip(texts["pmid"].to_list(), texts["text"].to_list(), strict=True))
    contexts: Contexts = {i.pmid: [] for i in items}
    for row in kept.iter_rows(named=True):
        contexts[int(row["query_id"])].append((row["pmid"], by_pmid.get(row["pmid"], "")))
    report["questions_with_contexts"] = sum(1 for c in contexts.values() if c)
    return contexts, report


# ---- requests, answers, figures --------------------------------------------------------------


def build_requests(
    items: Sequence[PubMedQAItem], contexts: Contexts, settings: Sequence[str] = SETTINGS
) -> list[LLMRequest]:
    requests = []
    for setting in settings:
        for item in items:
            texts = _setting_contexts(item, contexts, setting)
            requests.append(
                LLMRequest(
                    role=ROLE,
                    item_id=f"{setting}:{item.pmid}",
                    messages=messages(item.question, texts, setting),
                    response_model=None,
                    prompt_version=PROMPT_VERSION,
                    inputs={"question": item.question, "contexts": list(texts)},
                )
            )
    return requests


def _setting_contexts(item: PubMedQAItem, contexts: Contexts, setting: str) -> list[str]:
    if setting == RETRIEVED:
        return [text for _, text in contexts.get(item.pmid, [])]
    if BENCHMARK_OF[setting] == "pubmedqa":
        return list(item.contexts)
    return []


def ask(client: Any, requests: list[LLMRequest]) -> tuple[list[LLMResult | None], str | None]:
    """Results in request order, and why sending stopped early (None when it did not)."""
    try:
        return list(client.run(requests)), None
    except BudgetExhausted as stop:
        return _padded(stop.results, len(requests)), f"budget: {stop}"
    except LLMFailureRateExceeded as stop:
        return _padded(stop.results, len(requests)), f"failures: {stop}"


def _padded(results: list[Any], n: int) -> list[LLMResult | None]:
    return [*results, *([None] * (n - len(results)))][:n]


SCORED = ("answered", "rejected")  # the model's own final text: scored, never dropped


def answer_rows(
    run_id: str,
    model: str,
    items: Sequence[PubMedQAItem],
    contexts: Contexts,
    results: Sequence[LLMResult | None],
    settings: Sequence[str] = SETTINGS,
) -> pl.DataFrame:
    now = datetime.now()
    rows = []
    at = 0
    for setting in settings:
        for item in items:
            result = results[at]
            at += 1
            status = _status(result)
            parsed = parse_answer(result.content) if status in SCORED else None
            context_pmids = (
                [p for p, _ in contexts.get(item.pmid, [])] if setting == RETRIEVED else []
            )
            rows.append(
                {
                    "run_id": run_id,
                    "model": model,
                    "benchmark": BENCHMARK_OF[setting],
                    "setting": setting,
                    "pmid": item.pmid,
                    "split": item.split,
                    "gold": item.final_decision,
                    "answer": parsed.label if parsed else None,
                    "parse": parsed.how if parsed else "no answer",
                    "raw_text": result.content if result is not None else None,
                    "context_pmids": context_pmids,
                    "status": status,
                    "call_id": result.call_id if result is not None else None,
                    "created_at": now,
                }
            )
    return pl.DataFrame(rows, schema=ANSWER_SCHEMA)


def _status(result: LLMResult | None) -> str:
    """answered; rejected (the model's final answer failed validation, e.g. cut at max_tokens:
    scored from its text, a missing label counts as wrong); failed (no answer: transport);
    not_sent (budget)."""
    if result is None or (not result.ok and "not sent" in (result.error or "")):
        return "not_sent"
    if result.ok:
        return "answered"
    return "rejected" if result.rejected and result.content else "failed"


def result_rows(
    answers: pl.DataFrame,
    run_id: str,
    model: EvalModel,
    endpoint: str | None,
    k: int,
    full: dict[str, int] | None = None,
) -> pl.DataFrame:
    """One row per (benchmark, setting, split), the split labelled by what was asked
    (evaluation/result_scope.py): `test`, `all` only when every item of `full` was asked, else
    `test_first_<n>` / `all_first_<n>`. `full` None: the answered items are the whole file."""
    now = datetime.now()
    rows = []
    for (benchmark, setting), group in answers.group_by(
        "benchmark", "setting", maintain_order=True
    ):
        sizes = full if full is not None else full_sizes_of(group)
        for split, asked in asked_scopes(group, sizes):
            answered = asked.filter(pl.col("status").is_in(SCORED))
            figures = score(answered["gold"].to_list(), answered["answer"].to_list())
            rows.append(
                {
                    "run_id": run_id,
                    "model": model.name,
                    "model_id": model.model_id,
                    "endpoint": endpoint if model.backend != "offline" else None,
                    "benchmark": benchmark,
                    "setting": setting,
                    "split": split,
                    "n": figures.n,
                    "n_expected": asked.height,
                    "correct": figures.correct,
                    "accuracy": figures.accuracy,
                    "ci_low": figures.ci_low,
                    "ci_high": figures.ci_high,
                    "ci_method": CI_METHOD,
                    "macro_f1": figures.macro_f1,
                    "recall_yes": figures.recall["yes"],
                    "recall_no": figures.recall["no"],
                    "recall_maybe": figures.recall["maybe"],
                    "unparseable": figures.unparseable,
                    "majority_baseline": score(
                        asked["gold"].to_list(), asked["gold"].to_list()
                    ).majority_baseline,
                    "top_k": k if setting == RETRIEVED else None,
                    "prompt_version": PROMPT_VERSION,
                    "partial": answered.height < asked.height,
                    "created_at": now,
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def full_sizes_of(answers: pl.DataFrame) -> dict[str, int]:
    """Sizes when the answers cover the whole benchmark file."""
    return {"test": int((answers["split"] == "test").sum()), "all": answers.height}


def run_benchmark(
    con: duckdb.DuckDBPyConnection,
    client: Any,
    model: EvalModel,
    items: Sequence[PubMedQAItem],
    *,
    run_id: str,
    k: int,
    endpoint: str | None = None,
    every_item: Sequence[PubMedQAItem] | None = None,
) -> BenchmarkRun:
    """`every_item`: the benchmark file's complete item list, when `items` is a subset of it."""
    contexts, retrieval = retrieved_contexts(con, items, k)
    requests = build_requests(items, contexts)
    results, stopped = ask(client, requests)
    return _scored_run(
        run_id, model, items, contexts, results, stopped, retrieval, endpoint, k, every_item
    )


def _scored_run(
    run_id: str,
    model: EvalModel,
    items: Sequence[PubMedQAItem],
    contexts: Contexts,
    results: list[LLMResult | None],
    stopped: str | None,
    retrieval: dict[str, Any],
    endpoint: str | None,
    k: int,
    every_item: Sequence[PubMedQAItem] | None,
) -> BenchmarkRun:
    answers = answer_rows(run_id, model.name, items, contexts, results)
    full = full_sizes(every_item) if every_item is not None else None
    figures = result_rows(answers, run_id, model, endpoint, k, full)
    partial = bool(figures["partial"].any()) if figures.height else False
    return BenchmarkRun(answers, figures, partial, stopped, retrieval)


def run_benchmark_phased(
    gate: Any,
    client: Any,
    model: EvalModel,
    items: Sequence[PubMedQAItem],
    *,
    run_id: str,
    k: int,
    endpoint: str | None = None,
    every_item: Sequence[PubMedQAItem] | None = None,
) -> tuple[BenchmarkRun, pl.DataFrame]:
    """The asset's path: retrieval, the previous figures and the cache rows in a read phase,
    the questions to the model holding nothing, the figures in a write phase (`gate.hold`).
    Returns the run and the previous run's figures."""
    with gate.hold("read") as con:
        previous = previous_results(con, model.name)
        contexts, retrieval = retrieved_contexts(con, items, k)
        requests = build_requests(items, contexts)
        client.prefetch(con, requests)
    results, stopped = ask(client, requests)
    run = _scored_run(
        run_id, model, items, contexts, results, stopped, retrieval, endpoint, k, every_item
    )
    with gate.hold("write") as con:
        client.commit(con)
        write_benchmark(con, model.name, run)
    return run, previous


# ---- storage ---------------------------------------------------------------------------------


def previous_results(con: duckdb.DuckDBPyConnection, model: str) -> pl.DataFrame:
    """The model's stored figures, every run (empty when there is none): comparisons pick the
    latest like-with-like row from them (result_scope.like_with_like)."""
    return query_pl(con, "SELECT * FROM benchmark_results WHERE model = $model", {"model": model})


def write_benchmark(con: duckdb.DuckDBPyConnection, model: str, run: BenchmarkRun) -> None:
    """The run's figures join the history; its answers replace the model's previous ones."""
    with transaction(con):
        con.execute("DELETE FROM benchmark_answers WHERE model = ?", [model])
        for table, frame in (
            ("benchmark_answers", run.answers),
            ("benchmark_results", run.results),
        ):
            insert_frame(con, table, frame)
