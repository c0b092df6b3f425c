"""benchmark_eval: PubMedQA and PubMedQA* figures of any model, one partition per model."""

import time
from typing import Any

import dagster as dg
import polars as pl

from mkailin_assets import settings
from mkailin_assets.assets.metadata import markdown_table
from mkailin_assets.checks.benchmark_checks import BENCHMARK_CHECKS, benchmark_check_results
from mkailin_assets.evaluation import config as eval_config
from mkailin_assets.evaluation.pubmedqa import load_items
from mkailin_assets.evaluation.result_scope import comparability, like_with_like
from mkailin_assets.llm.client import LLMClient
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.writer import WriterGate
from mkailin_assets.stages.benchmark import SCORED, run_benchmark_phased
from mkailin_assets.stages.export import refresh_benchmark_figures

benchmark_models = dg.DynamicPartitionsDefinition(name="benchmark_models")

# Published PubMedQA (PQA-L test, reasoning-required) accuracies the m-KAILIN paper compares with.
REFERENCES = {"GPT-4 + MedPrompt": 82.0, "Med-PaLM 2": 81.8}


def _pct(value: Any) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def figures_table(current: pl.DataFrame, previous: pl.DataFrame) -> dg.MetadataValue:
    """Each setting beside its majority baseline, the references and the previous run."""
    before = {(r["benchmark"], r["setting"], r["split"]): r for r in previous.iter_rows(named=True)}
    rows = []
    for r in current.iter_rows(named=True):
        prior = before.get((r["benchmark"], r["setting"], r["split"]))
        delta = (
            f"{100 * (r['accuracy'] - prior['accuracy']):+.1f}"
            if prior and r["accuracy"] is not None and prior["accuracy"] is not None
            else ""
        )
        rows.append(
            (
                r["benchmark"],
                r["setting"],
                r["split"],
                f"{r['n']}/{r['n_expected']}",
                f"{_pct(r['accuracy'])} [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]",
                _pct(r["macro_f1"]),
                " / ".join(_pct(r[f"recall_{c}"]) for c in ("yes", "no", "maybe")),
                r["unparseable"],
                _pct(r["majority_baseline"]),
                _pct(prior["accuracy"]) if prior else "—",
                delta,
                "partial" if r["partial"] else "",
            )
        )
    headers = [
        "benchmark",
        "setting",
        "split",
        "n",
        "accuracy % [95% Wilson]",
        "macro-F1 %",
        "recall yes/no/maybe %",
        "unparseable",
        "majority %",
        "previous %",
        "Δ",
        "",
    ]
    return markdown_table(rows, headers)


def _float_metadata(current: pl.DataFrame) -> dict[str, float]:
    """One float per setting and split, so the UI plots them across materializations."""
    return {
        f"{r['benchmark']}.{r['setting']}.{r['split']}.accuracy": float(r["accuracy"])
        for r in current.iter_rows(named=True)
        if r["accuracy"] is not None
    }


@dg.asset(
    partitions_def=benchmark_models,
    deps=[dg.AssetDep("pubmed_files", partition_mapping=dg.AllPartitionMapping())],
    # No pool for the whole step: the writer is claimed around the read and write phases only.
    kinds={"duckdb", "openai"},
    group_name="evaluation",
    owners=["team:mkailin"],
    tags={"stage": "evaluation"},
    check_specs=BENCHMARK_CHECKS,
    description=(
        "PubMedQA (PQA-L reasoning-required: question + abstract contexts → yes/no/maybe, on the "
        "500-item test split and all 1,000) and PubMedQA* (MIRAGE: the question with the top-k "
        "abstracts our retrieval finds, its own PMID excluded; and with no context) for one model "
        "(partition = model, MKAILIN_EVAL_MODELS). Cached LLM calls: a re-run sends nothing."
    ),
)
def benchmark_eval(context: dg.AssetExecutionContext, duckdb_store: DuckDBStore, llm: LLMResource):
    model = eval_config.resolve_model(context.partition_key)
    every_item = load_items(eval_config.pubmedqa_path())
    items = load_items(
        eval_config.pubmedqa_path(), eval_config.item_split(), eval_config.item_limit()
    )
    config = eval_config.llm_config_for(model, llm.llm_config())
    k = eval_config.top_k()
    started = time.monotonic()
    gate = WriterGate(duckdb_store, context)
    with LLMClient(config, logger=context.log, database_path=duckdb_store.path) as client:
        endpoint = client.backend.endpoint() if model.backend != "offline" else None
        run, history = run_benchmark_phased(
            gate,
            client,
            model,
            items,
            run_id=context.run_id,
            k=k,
            endpoint=endpoint,
            every_item=every_item,
        )
        accounting = client.accounting()
    with gate.hold("card") as con:
        # The dataset card follows the figures (not only the next training_export).
        card_refreshed = refresh_benchmark_figures(con, settings.get_settings().export_dir)
    previous = like_with_like(run.results, history)  # only the same items, prompt and top-k
    if run.stopped:
        context.log.warning(f"benchmark_eval {model.name}: partial figures, {run.stopped}")
    yield dg.MaterializeResult(
        metadata={
            "model": dg.MetadataValue.json(model.public_dict()),
            "items": len(items),
            "figures": figures_table(run.results, previous),
            "majority_baseline_test_pct": 55.2,
            "published_references_pct": dg.MetadataValue.json(REFERENCES),
            # The runs compared with (like with like), "none" when no figure was comparable.
            "previous_run": ", ".join(sorted(set(previous["run_id"]))) or "none",
            **comparability(run.results, previous),
            "partial": run.partial,
            "stopped": run.stopped or "",
            "dataset_card_refreshed": card_refreshed,
            "retrieval": dg.MetadataValue.json(run.retrieval),
            "unparseable": int(
                run.answers.filter(pl.col("status").is_in(SCORED))["answer"].is_null().sum()
            ),
            **_float_metadata(run.results),
            **accounting,
            **gate.metadata(time.monotonic() - started),
        }
    )
    yield from benchmark_check_results(run.results, previous)
