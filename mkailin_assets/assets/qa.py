"""candidate_qa and evaluated_qa: the multi-agent distillation, one category at a time."""

import dagster as dg
import polars as pl

from mkailin_assets.assets.metadata import distribution, markdown_table
from mkailin_assets.automation.conditions import downstream_condition
from mkailin_assets.checks.qa_checks import (
    CANDIDATE_QA_CHECKS,
    EVALUATED_QA_CHECKS,
    candidate_qa_checks,
    evaluated_qa_checks,
)
from mkailin_assets.partitions import MESH_CATEGORIES, category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig
from mkailin_assets.stages.candidates import build_candidates, write_candidates
from mkailin_assets.stages.evaluation import evaluate_category, write_evaluation


def _embedding(client, llm: LLMResource, method: MethodConfig) -> tuple:
    """(embed(item_ids, texts), model name) for dense/hybrid retrieval; (None, None) for BM25."""
    if method.retrieval_method not in ("dense", "hybrid"):
        return None, None
    return (
        lambda item_ids, texts: client.embed(texts, item_ids),
        llm.llm_config().model_for("embeddings"),
    )


@dg.asset(
    partitions_def=category_partitions,
    deps=[dg.AssetDep("raw_abstracts")],
    pool="duckdb",
    automation_condition=downstream_condition(),
    kinds={"duckdb", "openai"},
    group_name="distill",
    owners=["team:mkailin"],
    tags={"stage": "distill"},
    check_specs=CANDIDATE_QA_CHECKS,
    description=(
        "Question agents write questions grounded in each abstract (tagged with its MeSH descriptors); "
        "the retrieval agent attaches the top-k supporting abstracts (BM25 in DuckDB by default). "
        "Cached LLM calls: unchanged abstracts cost nothing."
    ),
)
def candidate_qa(
    context: dg.AssetExecutionContext,
    duckdb_store: DuckDBStore,
    llm: LLMResource,
    method: MethodConfig,
):
    category = validate_category(context.partition_key)
    with duckdb_store.connect() as con:
        client = llm.client(con, logger=context.log)
        frame, report = build_candidates(
            con,
            client,
            category,
            sample=method.sample_per_category,
            method=method.retrieval_method,
            k=method.top_k,
            embedding=_embedding(client, llm, method),
        )
        changes = write_candidates(con, category, frame)
        results = candidate_qa_checks(con, category, method.top_k, method.max_failure_rate)
        accounting = client.accounting()
    preview = frame.filter(pl.col("status") == "ok").head(5)
    yield dg.MaterializeResult(
        metadata={
            "category": f"{category} — {MESH_CATEGORIES[category]}",
            "dagster/row_count": frame.height,
            "sources": report.sources,
            "candidates_ok": report.candidates_ok,
            "candidates_failed": report.candidates_failed,
            "questions_per_agent": dg.MetadataValue.json(report.per_agent),
            "contexts_retrieved": report.retrieved,
            "contexts_reused": report.contexts_reused,
            "rows_inserted": changes["inserted"],
            "rows_deleted": changes["deleted"],
            "first_errors": dg.MetadataValue.json(report.errors),
            "rejected_by_reason": dg.MetadataValue.json(report.rejected),
            "preview": markdown_table(
                [
                    (r["source_pmid"], r["agent"], r["question"], r["context_pmids"])
                    for r in preview.iter_rows(named=True)
                ],
                ["source_pmid", "agent", "question", "contexts"],
            ),
            **accounting,
        }
    )
    yield from results


@dg.asset(
    partitions_def=category_partitions,
    deps=[dg.AssetDep("candidate_qa")],
    pool="duckdb",
    automation_condition=downstream_condition(),
    kinds={"duckdb", "openai"},
    group_name="distill",
    owners=["team:mkailin"],
    tags={"stage": "distill"},
    check_specs=EVALUATED_QA_CHECKS,
    description=(
        "MeSH knowledge-hierarchy scores of each question's contexts, cold-start preference labels, "
        "the position-swapped LLM judge, and answers to the preferred questions from their contexts."
    ),
)
def evaluated_qa(
    context: dg.AssetExecutionContext,
    duckdb_store: DuckDBStore,
    llm: LLMResource,
    method: MethodConfig,
):
    category = validate_category(context.partition_key)
    band = (
        None
        if method.band_min is None and method.band_max is None
        else (method.band_min, method.band_max)
    )
    with duckdb_store.connect() as con:
        client = llm.client(con, logger=context.log)
        evaluated, preferences, report = evaluate_category(
            con,
            client,
            category,
            setsim=method.setsim,
            measure=method.measure,
            margin=method.margin,
            band=band,
            judge_enabled=method.judge_enabled,
        )
        changes = write_evaluation(con, category, evaluated, preferences)
        results = evaluated_qa_checks(con, category)
        accounting = client.accounting()
    kept = (
        evaluated.filter(pl.col("is_preferred") & pl.col("answer_flag").is_null()).head(3)
        if evaluated.height
        else evaluated
    )
    yield dg.MaterializeResult(
        metadata={
            "category": f"{category} — {MESH_CATEGORIES[category]}",
            "dagster/row_count": evaluated.height,
            "candidates": report.candidates,
            "scored": report.scored,
            "unscored": report.unscored,
            "mesh_score_distribution": dg.MetadataValue.json(distribution(report.scores)),
            "ic_snapshot": report.ic_snapshot or "",
            "pairs": report.pairs,
            "labelled_cold_start": report.labelled_cold_start,
            "labelled_judge": report.labelled_judge,
            "unlabelled_pairs": report.unlabelled,
            "judge_agreement": dg.MetadataValue.json(report.judge),
            "preferred": report.preferred,
            "answers_kept": report.answers_ok,
            "answers_flagged": dg.MetadataValue.json(report.answers_flagged),
            "rows_changed": dg.MetadataValue.json(changes),
            "preview": markdown_table(
                [
                    (r["source_pmid"], r["question"], r["answer"], r["cited_pmids"])
                    for r in kept.iter_rows(named=True)
                ],
                ["source_pmid", "question", "answer", "cited"],
            ),
            **accounting,
        }
    )
    yield from results
