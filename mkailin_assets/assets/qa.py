"""candidate_qa and evaluated_qa: the multi-agent distillation, one category at a time."""

import time

import dagster as dg

from mkailin_assets.assets.metadata import (
    category_label,
    distribution,
    preview_table,
    skipped_metadata,
)
from mkailin_assets.automation.conditions import downstream_condition
from mkailin_assets.checks.gx_runner import (
    finish_background_gx_import,
    import_gx_in_background,
)
from mkailin_assets.checks.qa_checks import (
    CANDIDATE_QA_CHECKS,
    EVALUATED_QA_CHECKS,
    candidate_qa_checks,
    evaluated_qa_checks,
)
from mkailin_assets.curation.splits import SplitRule
from mkailin_assets.evaluation.hygiene import training_excluded_pmids
from mkailin_assets.partitions import category_partitions, validate_category
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig
from mkailin_assets.resources.writer import WriterGate, import_before_holding
from mkailin_assets.stages.abstracts import empty_category_reason
from mkailin_assets.stages.candidates import distill_candidates
from mkailin_assets.stages.evaluation import distill_evaluation


def llm_stage_gate(duckdb_store: DuckDBStore, context: dg.AssetExecutionContext) -> WriterGate:
    """The writer of an LLM stage: GX's import starts once the read phase lets the writer go, so
    it overlaps the model calls, and is waited for before a phase claims it again."""
    return WriterGate(
        duckdb_store,
        context,
        after_release=import_gx_in_background,
        before_claim=finish_background_gx_import,
    )


@dg.asset(
    partitions_def=category_partitions,
    deps=[
        dg.AssetDep("raw_abstracts"),
        dg.AssetDep("mesh_vocabulary"),  # descriptor tags are validated against the whole tree
        # Retrieval reads the whole corpus, whatever the category.
        dg.AssetDep("pubmed_files", partition_mapping=dg.AllPartitionMapping()),
    ],
    # No pool for the whole step: the stage claims the `duckdb` pool's slot around its read and
    # write phases only (resources/writer.py), never while its model calls are in flight.
    automation_condition=downstream_condition(),
    kinds={"duckdb", "openai"},
    group_name="distill",
    owners=["team:mkailin"],
    tags={"stage": "distill"},
    check_specs=CANDIDATE_QA_CHECKS,
    description=(
        "Question agents write questions grounded in each abstract (tagged with its MeSH descriptors); "
        "the retrieval agent attaches the top-k supporting abstracts (BM25 by default, from the "
        "on-disk index beside the DuckDB file, brought in step with `citations` first). "
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
    started = time.monotonic()
    import_before_holding("pandas")
    gate = llm_stage_gate(duckdb_store, context)
    with llm.detached_client(duckdb_store.path, logger=context.log) as client:
        result = distill_candidates(
            gate,
            client,
            category,
            sample=method.sample_per_category,
            questions_per_agent=method.questions_per_agent,
            method=method.retrieval_method,
            k=method.top_k,
            # Benchmark hygiene: benchmark citations and their twins are never a context.
            exclude_pmids=training_excluded_pmids,  # read in the stage's read phase
            split_rule=SplitRule(method.ratios()),  # held-out splits never leak via contexts
            # The checks' rows, read in the write phase after the partition is written. One
            # threshold for the client's run and this check: MKAILIN_LLM_MAX_FAILURE_RATE.
            then=lambda con: (
                empty_category_reason(con, category),
                candidate_qa_checks(con, category, method.top_k, llm.max_failure_rate),
            ),
        )
        accounting = client.accounting()
    skipped, checks = result.after_write
    report = result.report
    yield dg.MaterializeResult(
        metadata={
            "category": category_label(category),
            **skipped_metadata(skipped),
            "dagster/row_count": result.rows,
            "sources": report.sources,
            "candidates_ok": report.candidates_ok,
            "candidates_failed": report.candidates_failed,
            "questions_per_agent": dg.MetadataValue.json(report.per_agent),
            "contexts_retrieved": report.retrieved,
            "contexts_reused": report.contexts_reused,
            "rows_inserted": result.changes["inserted"],
            "rows_deleted": result.changes["deleted"],
            "questions_without_indexable_term": report.no_indexable_term,
            "questions_without_context": report.no_context,
            "retrieval_index": dg.MetadataValue.json(report.index),
            "first_errors": dg.MetadataValue.json(report.errors),
            "rejected_by_reason": dg.MetadataValue.json(report.rejected),
            "preview": preview_table(result.preview),
            **accounting,
            **gate.metadata(time.monotonic() - started),
        }
    )
    # GX validates the rows read above, the writer free (GX takes seconds, the reads do not).
    yield from (check() for check in checks)


@dg.asset(
    partitions_def=category_partitions,
    deps=[dg.AssetDep("candidate_qa"), dg.AssetDep("mesh_vocabulary")],
    # No pool for the whole step: the stage claims the `duckdb` pool's slot around its read and
    # write phases only (resources/writer.py), never while its model calls are in flight.
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
    started = time.monotonic()
    import_before_holding("pandas")
    gate = llm_stage_gate(duckdb_store, context)
    with llm.detached_client(duckdb_store.path, logger=context.log) as client:
        result = distill_evaluation(
            gate,
            client,
            category,
            setsim=method.setsim,
            measure=method.measure,
            margin=method.margin,
            band_min=method.band_min,
            band_max=method.band_max,
            judge_enabled=method.judge_enabled,
            # The checks' rows, read in the write phase after both tables are written.
            then=lambda con: (
                empty_category_reason(con, category),
                evaluated_qa_checks(con, category),
            ),
        )
        accounting = client.accounting()
    skipped, checks = result.after_write
    report = result.report
    yield dg.MaterializeResult(
        metadata={
            "category": category_label(category),
            **skipped_metadata(skipped),
            "dagster/row_count": result.rows,
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
            "rows_changed": dg.MetadataValue.json(result.changes),
            "preview": preview_table(result.preview),
            **accounting,
            **gate.metadata(time.monotonic() - started),
        }
    )
    # GX validates the rows read above, the writer free (GX takes seconds, the reads do not).
    yield from (check() for check in checks)
