"""evaluated_qa: MeSH scores, cold-start labels, the judge, and answers (docs/method.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from mkailin_assets.agents.answer import answers_from_results, build_answer_requests
from mkailin_assets.agents.judge import build_judge_requests, combine_verdicts, judge_agreement
from mkailin_assets.agents.mesh_similarity import build_ic_snapshot, score_candidates
from mkailin_assets.agents.preferences import (
    PREFERENCE_COLUMNS,
    cold_start_pairs,
    final_preferences,
)
from mkailin_assets.db import TEXT_SCHEMA, citation_rows, query_pl, sync_partition, transaction
from mkailin_assets.stages.tables import (
    AfterWrite,
    StageResult,
    delete_partition,
    frame_preview,
    read_after_write,
)

SCORE_DECIMALS = 10  # coarser than float noise, much finer than any margin or band


@dataclass
class EvaluationReport:
    candidates: int = 0
    scored: int = 0
    unscored: int = 0
    pairs: int = 0
    labelled_cold_start: int = 0
    labelled_judge: int = 0
    unlabelled: int = 0
    preferred: int = 0
    answers_ok: int = 0
    answers_flagged: dict[str, int] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    ic_snapshot: str | None = None


def score_band(
    band_min: float | None, band_max: float | None
) -> tuple[float | None, float | None] | None:
    """The optional MeSH score band; None when neither end is set (no filter)."""
    return None if band_min is None and band_max is None else (band_min, band_max)


CANDIDATES_SQL = """
SELECT candidate_id, source_pmid, source_hash, question, agent, model, prompt_version,
       question_descriptors, context_pmids, llm_call_id
FROM candidate_qa
WHERE category = ? AND status = 'ok' AND len(context_pmids) > 0
ORDER BY candidate_id
"""


def candidate_contexts(con: duckdb.DuckDBPyConnection, candidates: pl.DataFrame) -> pl.DataFrame:
    """Each candidate's contexts in rank order, with the text the judge and the answer agent read
    (candidate_id, contexts: list of {pmid, title, abstract}); a context deleted since is left
    out. The texts are read by PMID list: a join against citations reads the whole corpus."""
    ranked = (
        candidates.select("candidate_id", pmid="context_pmids")
        .explode("pmid")
        .drop_nulls("pmid")
        .with_columns(rank=pl.int_range(pl.len()).over("candidate_id"))
    )
    texts = citation_rows(con, ranked["pmid"].unique(), TEXT_SCHEMA).with_columns(
        pl.col("title", "abstract").fill_null("")
    )
    return (
        ranked.join(texts, on="pmid")
        .sort("candidate_id", "rank")
        .group_by("candidate_id", maintain_order=True)
        .agg(contexts=pl.struct("pmid", "title", "abstract"))
    )


def candidate_sources(con: duckdb.DuckDBPyConnection, candidates: pl.DataFrame) -> pl.DataFrame:
    """source_pmid, source_title, source_abstract of the candidates' sources (by PMID list)."""
    return citation_rows(con, candidates["source_pmid"].unique(), TEXT_SCHEMA).rename(
        {"pmid": "source_pmid", "title": "source_title", "abstract": "source_abstract"}
    )


def judge_inputs(
    pairs: pl.DataFrame, candidates: pl.DataFrame, contexts: pl.DataFrame, sources: pl.DataFrame
) -> pl.DataFrame:
    """The pair frame build_judge_requests reads: both sides' questions and contexts, the source."""
    side = candidates.select("candidate_id", "question").join(
        contexts, on="candidate_id", how="left"
    )
    return (
        pairs.join(sources, on="source_pmid", how="left")
        .join(
            side.rename(
                {"candidate_id": "a_id", "question": "a_question", "contexts": "a_contexts"}
            ),
            on="a_id",
        )
        .join(
            side.rename(
                {"candidate_id": "b_id", "question": "b_question", "contexts": "b_contexts"}
            ),
            on="b_id",
        )
    )


@dataclass
class EvaluationPlan:
    """What the model phase needs, read while the writer is held."""

    category: str
    report: EvaluationReport
    candidates: pl.DataFrame
    scored: pl.DataFrame
    score_frame: pl.DataFrame
    pairs: pl.DataFrame
    contexts: pl.DataFrame
    judge_requests: list

    def answer_requests(self, preferred_ids: pl.DataFrame) -> list:
        answer_input = (
            preferred_ids.select("candidate_id")
            .join(
                self.candidates.select("candidate_id", "question", "source_pmid"),
                on="candidate_id",
            )
            .join(self.contexts, on="candidate_id", how="left")
        )
        return build_answer_requests(answer_input)

    def possible_requests(self) -> list:
        """Every request the model phase may send: the judge's, and an answer for any
        candidate the preferences could choose (prefetched from the cache in the read phase)."""
        return self.judge_requests + self.answer_requests(self.candidates)


def plan_evaluation(
    con: duckdb.DuckDBPyConnection,
    category: str,
    *,
    setsim: str = "best_match",
    measure: str = "ic_mean",
    margin: float = 0.1,
    band: tuple[float | None, float | None] | None = None,
    judge_enabled: bool = True,
) -> EvaluationPlan | None:
    """Read phase: candidates, MeSH scores, cold-start pairs, contexts, the judge's requests.
    None when the category has no candidates."""
    report = EvaluationReport()
    candidates = query_pl(con, CANDIDATES_SQL, [category])
    report.candidates = candidates.height
    if candidates.is_empty():
        return None
    snapshot = build_ic_snapshot(con)
    report.ic_snapshot = snapshot
    scores = score_candidates(
        con,
        candidates.select("candidate_id", "source_pmid", "context_pmids"),
        setsim=setsim,
        measure=measure,
        snapshot_id=snapshot,
    )
    # The set-wise SQL sums in parallel, so a score's last bits vary from run to run; rounded, an
    # unchanged candidate keeps an identical row and nothing downstream is rewritten.
    scores = scores.with_columns(pl.col("mesh_score").round(SCORE_DECIMALS))
    scored = candidates.join(
        scores.drop("source_pmid", strict=False), on="candidate_id", how="left"
    )
    report.scored = scored["mesh_score"].drop_nulls().len()
    report.unscored = scored.height - report.scored
    report.scores = scored["mesh_score"].drop_nulls().to_list()

    score_frame = scored.select("source_pmid", "candidate_id", "mesh_score")
    pairs = cold_start_pairs(score_frame, margin=margin, band=band)
    report.pairs = pairs.height
    contexts = candidate_contexts(con, candidates)
    judge_requests: list = []
    if judge_enabled and not pairs.is_empty():
        sources = candidate_sources(con, candidates)
        judge_requests = build_judge_requests(judge_inputs(pairs, candidates, contexts, sources))
    return EvaluationPlan(
        category, report, candidates, scored, score_frame, pairs, contexts, judge_requests
    )


def evaluate_plan(
    plan: EvaluationPlan | None, client: Any
) -> tuple[pl.DataFrame, pl.DataFrame, EvaluationReport]:
    """Model phase: the judge, the preferences, the answers (no DuckDB)."""
    if plan is None:
        return _empty_evaluated(), _empty_preferences(), EvaluationReport()
    report, pairs, score_frame = plan.report, plan.pairs, plan.score_frame
    verdicts = None
    if plan.judge_requests:
        verdicts = combine_verdicts(plan.judge_requests, client.run(plan.judge_requests))
        report.judge = judge_agreement(verdicts, pairs)
    preference_rows, preferred = final_preferences(pairs, verdicts, scores=score_frame)
    report.labelled_judge = preference_rows.filter(pl.col("label_source") == "judge").height
    report.labelled_cold_start = preference_rows.filter(
        pl.col("label_source") == "cold_start"
    ).height
    report.unlabelled = pairs.height - preference_rows.height
    report.preferred = preferred.height

    answer_requests = plan.answer_requests(preferred)
    answers = pl.DataFrame(
        answers_from_results(
            answer_requests, client.run(answer_requests) if answer_requests else []
        ),
        schema=ANSWER_SCHEMA,
    )
    report.answers_ok = answers.filter(pl.col("answer_flag").is_null()).height
    report.answers_flagged = dict(
        answers.filter(pl.col("answer_flag").is_not_null())
        .group_by("answer_flag")
        .len()
        .iter_rows()
    )
    now = datetime.now()
    evaluated = (
        plan.scored.join(
            preferred.select("candidate_id", "preference_source"), on="candidate_id", how="left"
        )
        .join(answers.drop("prompt_version", "status", "error"), on="candidate_id", how="left")
        .with_columns(
            pl.lit(plan.category).alias("category"),
            pl.col("preference_source").is_not_null().alias("is_preferred"),
            pl.col("contexts_with_mesh").fill_null(0),
            pl.col("contexts_without_mesh").fill_null(0),
            pl.col("llm_call_id").alias("question_call_id"),
            pl.lit(now).alias("created_at"),
        )
        .select(EVALUATED_COLUMNS)
    )
    preferences = preference_rows.with_columns(
        pl.lit(plan.category).alias("category"), pl.lit(now).alias("created_at")
    ).select(PREFERENCE_TABLE_COLUMNS)
    return evaluated, preferences, report


ANSWER_SCHEMA = {
    "candidate_id": pl.String,
    "answer_model": pl.String,
    "answer_call_id": pl.String,
    "prompt_version": pl.String,
    "answer": pl.String,
    "final_decision": pl.String,
    "cited_pmids": pl.List(pl.Int64),
    "answer_flag": pl.String,
    "status": pl.String,
    "error": pl.String,
}
EVALUATED_COLUMNS = [
    "category",
    "candidate_id",
    "source_pmid",
    "question",
    "agent",
    "model",
    "prompt_version",
    "question_descriptors",
    "context_pmids",
    "mesh_score",
    "contexts_with_mesh",
    "contexts_without_mesh",
    "ic_snapshot",
    "is_preferred",
    "preference_source",
    "answer",
    "final_decision",
    "cited_pmids",
    "answer_flag",
    "answer_model",
    "answer_call_id",
    "question_call_id",
    "source_hash",
    "created_at",
]
# The preference_pairs table: the preference rows with their partition and time.
PREFERENCE_TABLE_COLUMNS = ["category", *PREFERENCE_COLUMNS, "created_at"]


def _empty_evaluated() -> pl.DataFrame:
    return pl.DataFrame(schema={c: pl.String for c in EVALUATED_COLUMNS}).head(0)


def _empty_preferences() -> pl.DataFrame:
    return pl.DataFrame(schema={c: pl.String for c in PREFERENCE_TABLE_COLUMNS}).head(0)


def write_evaluation(
    con: duckdb.DuckDBPyConnection,
    category: str,
    evaluated: pl.DataFrame,
    preferences: pl.DataFrame,
) -> dict[str, int]:
    """Both tables change together or not at all; the counts say what each lost and gained."""
    if evaluated.is_empty():
        # No candidates left (e.g. their sources were deleted): the partition empties, and the
        # rows it held are reported as deleted.
        with transaction(con):
            deleted = delete_partition(con, "evaluated_qa", category)
            pairs_deleted = delete_partition(con, "preference_pairs", category)
        return {
            "inserted": 0,
            "deleted": deleted,
            "pairs_inserted": 0,
            "pairs_deleted": pairs_deleted,
        }
    with transaction(con):
        changes = sync_partition(
            con, "evaluated_qa", category, evaluated, key=("candidate_id",), own_transaction=False
        )
        pair_changes = sync_partition(
            con,
            "preference_pairs",
            category,
            preferences,
            key=("source_pmid", "chosen_id", "rejected_id"),
            own_transaction=False,
        )
    return {
        "inserted": changes["inserted"],
        "deleted": changes["deleted"],
        "pairs_inserted": pair_changes["inserted"],
        "pairs_deleted": pair_changes["deleted"],
    }


def distill_evaluation(
    gate: Any,
    client: Any,
    category: str,
    *,
    setsim: str,
    measure: str,
    margin: float,
    band_min: float | None,
    band_max: float | None,
    judge_enabled: bool,
    then: AfterWrite = None,
) -> StageResult[EvaluationReport]:
    """Score, label, judge and answer the category's candidates; write both tables together.
    The writer is held to read and to write (`gate.hold`), not while the judge and the answer
    agent wait on the model; `then(con)` runs in the write phase, after both tables are written
    (its value is the result's `after_write`)."""
    with gate.hold("read") as con:
        plan = plan_evaluation(
            con,
            category,
            setsim=setsim,
            measure=measure,
            margin=margin,
            band=score_band(band_min, band_max),
            judge_enabled=judge_enabled,
        )
        if plan is not None:
            client.prefetch(con, plan.possible_requests())
    evaluated, preferences, report = evaluate_plan(plan, client)
    if plan is None:
        report.candidates = 0
    kept = (
        evaluated.filter(pl.col("is_preferred") & pl.col("answer_flag").is_null()).head(3)
        if evaluated.height
        else evaluated
    )
    with gate.hold("write") as con:
        client.commit(con)
        changes = write_evaluation(con, category, evaluated, preferences)
        result = StageResult(
            rows=evaluated.height,
            report=report,
            changes=changes,
            preview=frame_preview(
                kept,
                ["source_pmid", "question", "answer", "cited_pmids"],
                ["source_pmid", "question", "answer", "cited"],
            ),
        )
        return read_after_write(con, result, then)
