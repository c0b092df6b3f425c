"""Materialize benchmark_eval for the given models and print their latest figures.

    .venv/bin/python scripts/evaluate.py [--corpus FILE]... [MODEL ...]   # default: offline

Models are benchmark_models partition keys (offline, a name from MKAILIN_EVAL_MODELS, or a model
id at MKAILIN_LLM_BASE_URL). `--corpus` first loads the MeSH vocabulary (MKAILIN_MESH_SOURCE)
and those release files of MKAILIN_PUBMED_SOURCE (pubmed_files partitions), the corpus PubMedQA*
retrieves from; without it PubMedQA* retrieves from the citations already in the database. The
instance is DAGSTER_HOME's when set (the UI then shows the runs), else an ephemeral one. The
database is MKAILIN_DUCKDB_PATH. Example, the local model on a 100-item subset of the test split:

    MKAILIN_EVAL_MODELS='[{"name": "smollm2", "backend": "local"}]' MKAILIN_EVAL_SPLIT=test \\
    MKAILIN_EVAL_LIMIT=100 MKAILIN_PUBMED_SOURCE=../shared/data/pubmed \\
    MKAILIN_MESH_SOURCE=../shared/data/mesh/mesh2024-trees.xml.gz \\
    .venv/bin/python scripts/evaluate.py --corpus pubmed20n0014.xml.gz offline smollm2
"""

from __future__ import annotations

import argparse
import os
import time

import dagster as dg

from mkailin_assets import preflight
from mkailin_assets.automation.abandoned_runs import process_tags, release_abandoned_runs
from mkailin_assets.db import apply_analysis_views
from mkailin_assets.definitions import ASSETS, build_resources
from mkailin_assets.resources.duckdb_store import DuckDBStore

COLUMNS = "model, benchmark, setting, split, n, accuracy_pct, ci_low_pct, ci_high_pct, macro_f1_pct"


def _materialize(instance: dg.DagsterInstance, asset: str, partition: str | None) -> None:
    started = time.perf_counter()
    result = dg.materialize(
        ASSETS,
        selection=[asset],
        partition_key=partition,
        instance=instance,
        resources=build_resources(),
        tags=process_tags(),
    )
    where = f"[{partition}]" if partition else ""
    print(f"{asset}{where}: {time.perf_counter() - started:.1f} s", flush=True)
    if asset == "benchmark_eval":
        (event,) = result.asset_materializations_for_node(asset)
        calls = {k: v.value for k, v in event.metadata.items() if k.startswith("llm.")}
        print(f"  {calls}", flush=True)


def _add_partitions(instance: dg.DagsterInstance, name: str, keys: list[str]) -> None:
    known = set(instance.get_dynamic_partitions(name))
    instance.add_dynamic_partitions(name, [key for key in keys if key not in known])


def main(models: list[str], corpus: list[str]) -> None:
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
    print(COLUMNS.replace(", ", "\t"))
    for row in rows:
        print("\t".join(str(v) for v in row))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["offline"])
    parser.add_argument("--corpus", action="append", default=[], metavar="FILE")
    arguments = parser.parse_args()
    preflight.exit_on_problems(network=True)
    main(arguments.models, arguments.corpus)
