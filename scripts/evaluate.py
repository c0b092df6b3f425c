"""Materialize benchmark_eval for the given models and print their latest figures.

    .venv/bin/python scripts/evaluate.py [MODEL ...]      # default: offline

Models are benchmark_models partition keys (offline, a name from MKAILIN_EVAL_MODELS, or a model
id at MKAILIN_LLM_BASE_URL). The instance is DAGSTER_HOME's when set (the UI then shows the
runs), else an ephemeral one. The database is MKAILIN_DUCKDB_PATH; PubMedQA* retrieves from the
citations already ingested there.
"""

from __future__ import annotations

import os
import sys

import dagster as dg

from mkailin_assets.db import apply_analysis_views
from mkailin_assets.definitions import ASSETS, build_resources
from mkailin_assets.resources.duckdb_store import DuckDBStore

COLUMNS = "model, benchmark, setting, split, n, accuracy_pct, ci_low_pct, ci_high_pct, macro_f1_pct"


def main(models: list[str]) -> None:
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    instance = instance or dg.DagsterInstance.ephemeral()
    known = set(instance.get_dynamic_partitions("benchmark_models"))
    instance.add_dynamic_partitions("benchmark_models", [m for m in models if m not in known])
    for model in models:
        dg.materialize(
            ASSETS,
            selection=["benchmark_eval"],
            partition_key=model,
            instance=instance,
            resources=build_resources(),
        )
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
    main(sys.argv[1:] or ["offline"])
