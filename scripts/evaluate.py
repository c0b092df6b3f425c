"""Materialize benchmark_eval for the given models and print their latest figures.

    .venv/bin/python scripts/evaluate.py [--corpus FILE]... [MODEL ...]   # default: offline

Models are benchmark_models partition keys (offline, a name from MKAILIN_EVAL_MODELS, or a model
id at MKAILIN_LLM_BASE_URL). PubMedQA* retrieves its contexts from the citations in the database
(MKAILIN_DUCKDB_PATH): after `./scripts/demo.sh`, the bundled sample's. `--corpus` first loads
the MeSH vocabulary (MKAILIN_MESH_SOURCE) and those release files of MKAILIN_PUBMED_SOURCE
(pubmed_files partitions) into it; like the demo, the sources default to the bundled sample. The
output names the corpus, since PubMedQA* figures depend on it. The instance is DAGSTER_HOME's
when set (the UI then shows the runs), else an ephemeral one.

With NLM's files (fetched as docs/evaluation.md says, into data/nlm/), the local model on a
100-item subset of the test split:

    MKAILIN_EVAL_MODELS='[{"name": "smollm2", "backend": "local"}]' MKAILIN_EVAL_SPLIT=test \\
    MKAILIN_EVAL_LIMIT=100 MKAILIN_PUBMED_SOURCE=data/nlm/pubmed \\
    MKAILIN_MESH_SOURCE=data/nlm/mesh/desc2026.gz \\
    .venv/bin/python scripts/evaluate.py --corpus pubmed26n0001.xml.gz offline smollm2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from mkailin_assets import preflight, settings

# The figures and the reference beside them, as printed.
COLUMNS = (
    "model, benchmark, setting, split, n, accuracy_pct, ci_low_pct, ci_high_pct, macro_f1_pct, "
    "majority_baseline_pct, unparseable"
)
HEADERS = ["model", "benchmark", "setting", "split", "n", "accuracy %", "95% CI", "macro-F1 %",
           "majority %", "unparseable"]  # fmt: skip
# Dagster's console logger prints every event at DEBUG; the script prints its own lines.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def configure_environment() -> None:
    """The bundled sample as sources unless the user chose otherwise (as the demo does)."""
    os.environ.setdefault("MKAILIN_MESH_SOURCE", str(settings.SAMPLE_MESH_SOURCE))
    os.environ.setdefault("MKAILIN_PUBMED_SOURCE", str(settings.SAMPLE_PUBMED_SOURCE))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _materialize(instance: Any, asset: str, partition: str | None) -> None:
    import dagster as dg

    from mkailin_assets.automation.abandoned_runs import process_tags
    from mkailin_assets.definitions import ASSETS, build_resources

    started = time.perf_counter()
    result = dg.materialize(
        ASSETS,
        selection=[asset],
        partition_key=partition,
        instance=instance,
        resources=build_resources(),
        tags=process_tags(),
        run_config=QUIET_RUN_CONFIG,
    )
    where = f" [{partition}]" if partition else ""
    line = f"{asset}{where}: {time.perf_counter() - started:.1f} s"
    if asset == "benchmark_eval":
        (event,) = result.asset_materializations_for_node(asset)
        meta = {k: v.value for k, v in event.metadata.items()}
        line += (
            f", {meta.get('items', '?')} items; LLM requests sent "
            f"{meta.get('llm.requests_sent', 0)}, offline answers {meta.get('llm.offline_calls', 0)}, "
            f"from the cache {meta.get('llm.cache_hits', 0)}, "
            f"cost ${float(meta.get('llm.cost_usd', 0.0) or 0.0):.4f}"
        )
    print(line, flush=True)


def _add_partitions(instance: Any, name: str, keys: list[str]) -> None:
    known = set(instance.get_dynamic_partitions(name))
    instance.add_dynamic_partitions(name, [key for key in keys if key not in known])


def corpus_line(con: Any) -> str:
    """What PubMedQA* retrieved from: the citations in the database and their files."""
    citations, files = con.execute(
        "SELECT (SELECT count(*) FROM citations), "
        "(SELECT string_agg(file_name, ', ' ORDER BY file_name) FROM pubmed_files)"
    ).fetchone()
    return (
        f"PubMedQA* retrieved from {citations} citations in {settings.get_settings().duckdb_path}"
        f" (release files: {files or 'none'}); its figures depend on this corpus "
        "(docs/evaluation.md measures them on a whole NLM baseline file)"
    )


def table(rows: list[tuple]) -> str:
    cells = [
        [str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), f"{r[6]}–{r[7]}",
         str(r[8]), str(r[9]), str(r[10])]
        for r in rows
    ]  # fmt: skip
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def main(models: list[str], corpus: list[str]) -> None:
    import dagster as dg

    from mkailin_assets.automation.abandoned_runs import release_abandoned_runs
    from mkailin_assets.db import apply_analysis_views
    from mkailin_assets.resources.duckdb_store import DuckDBStore

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    instance = instance or dg.DagsterInstance.ephemeral()
    release_abandoned_runs(instance)
    if corpus:  # release files wait for the vocabulary (the placement check)
        _materialize(instance, "mesh_vocabulary", None)
    _add_partitions(instance, "pubmed_files", corpus)
    for name in corpus:
        _materialize(instance, "pubmed_files", name)
    _add_partitions(instance, "benchmark_models", models)
    for model in models:
        _materialize(instance, "benchmark_eval", model)
    with DuckDBStore().connect() as con:
        apply_analysis_views(con)
        rows = con.execute(
            f"SELECT {COLUMNS} FROM benchmark_latest WHERE model IN (SELECT unnest($m))",
            {"m": models},
        ).fetchall()
        where = corpus_line(con)
    print()
    print(table(rows))
    print()
    print(where)
    print(
        "majority %: always answering the most frequent label of the split; "
        "unparseable: answers with no yes/no/maybe (scored wrong)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["offline"])
    parser.add_argument("--corpus", action="append", default=[], metavar="FILE")
    arguments = parser.parse_args()
    configure_environment()
    preflight.exit_on_problems(network=True)
    main(arguments.models, arguments.corpus)
    sys.exit(0)
