"""training_export: every category's records, read once and written as the files people train on."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from mkailin_assets.agents.prompts import PROMPTS
from mkailin_assets.curation.export import (
    export_training_set,
    publishable,
    with_benchmark_section,
)
from mkailin_assets.db import apply_analysis_views, insert_frame, query_pl, transaction
from mkailin_assets.stages.training import cross_category_duplicates
from mkailin_assets.stages.twins import twins_per_benchmark

# The dataset card's freshness section (category_freshness, sql/analysis).
FRESHNESS_SQL = (
    "SELECT category, latest_file, covered_file, files_pending, state FROM category_freshness"
)

# A record whose source sits in several categories is exported once, under its first category,
# with every category it belongs to.
EXPORT_RECORDS_SQL = """
SELECT * EXCLUDE (categories) REPLACE (
    json_merge_patch(provenance, json_object('categories', categories)) AS provenance)
FROM (SELECT *, list(category ORDER BY category) OVER (PARTITION BY kind, split_part(record_id, ':', 3)) AS categories,
             row_number() OVER (PARTITION BY kind, split_part(record_id, ':', 3) ORDER BY category) AS n
      FROM training_set)
WHERE n = 1 ORDER BY record_id
"""
MODELS_SQL = """
SELECT role, list(DISTINCT model ORDER BY model) AS models FROM llm_calls GROUP BY role ORDER BY role
"""


@dataclass(frozen=True)
class TrainingExport:
    """What the export writes: records, what was filtered out, and the dataset card's facts."""

    training: pl.DataFrame
    filtered: pl.DataFrame
    meta: dict[str, Any]
    removed_at_export: pl.DataFrame  # question twins across categories (also in `filtered`)


@dataclass(frozen=True)
class ExportSummary:
    out_dir: Path
    records: int
    counts: dict[str, dict[str, int]]
    files: int
    by_category: dict[str, int]
    filtered: int
    kinds: list[str]


def read_export(
    con: duckdb.DuckDBPyConnection, filters: dict[str, Any], dedup_threshold: float
) -> TrainingExport:
    """Every category's records and the card's facts; `filters` is the configuration to show.

    Each category deduplicated itself; question twins in different categories meet here, and the
    smaller candidate id is kept (the removed records join the filtered list)."""
    apply_analysis_views(con)
    training = query_pl(con, EXPORT_RECORDS_SQL).drop("n")
    filtered = query_pl(con, "SELECT * FROM training_filtered ORDER BY record_id")
    across = cross_category_duplicates(training, dedup_threshold)
    training = training.join(across.select("record_id"), on="record_id", how="anti")
    filtered = pl.concat([filtered, across], how="diagonal_relaxed")
    coverage = query_pl(con, "SELECT * FROM mesh_coverage")
    models = query_pl(con, MODELS_SQL)
    benchmark = query_pl(con, "SELECT * EXCLUDE (created_at) FROM benchmark_latest")
    meta = {
        "name": "mkailin training set",
        "models": {r["role"]: ", ".join(r["models"]) for r in models.iter_rows(named=True)},
        "prompts": {template.role: template.version for template in PROMPTS.values()},
        "filters": filters,
        "benchmark": benchmark.to_dicts(),
        "hygiene": {"twins": twins_per_benchmark(con)},
        "freshness": query_pl(con, FRESHNESS_SQL).to_dicts(),
        "mesh_coverage": {
            f"depth {r['depth']}": f"{r['covered']} / {r['descriptors']} ({r['share_covered']:.1%})"
            for r in coverage.iter_rows(named=True)
        },
    }
    return TrainingExport(training, filtered, meta, across)


def record_export_removals(con: duckdb.DuckDBPyConnection, removed: pl.DataFrame) -> None:
    """training_export_filtered holds what the latest export removed (one transaction)."""
    with transaction(con):
        con.execute("DELETE FROM training_export_filtered")
        stamped = removed.with_columns(pl.lit(datetime.now()).alias("exported_at"))
        insert_frame(con, "training_export_filtered", stamped)


def write_export(export: TrainingExport, out_dir: Path) -> ExportSummary:
    """Write the files (after the database is closed: no lock is held while files are written)."""
    training = export.training
    report = export_training_set(training, export.filtered, out_dir, export.meta)
    return ExportSummary(
        out_dir=report.out_dir,
        records=training.height,
        counts=report.counts,
        files=len(report.files),
        by_category=(
            dict(training.group_by("category").len().sort("category").iter_rows())
            if training.height
            else {}
        ),
        filtered=export.filtered.height,
        kinds=sorted(training["kind"].unique().to_list()) if training.height else [],
    )


def refresh_benchmark_figures(con: duckdb.DuckDBPyConnection, out_dir: Path) -> bool:
    """Put the latest benchmark figures into an existing export's card and manifest (called by
    benchmark_eval, so the card never shows older figures than the database). False when no
    export exists yet: training_export writes them with everything else."""
    card_path, manifest_path = out_dir / "README.md", out_dir / "manifest.json"
    if not (card_path.is_file() and manifest_path.is_file()):
        return False
    apply_analysis_views(con)
    rows = publishable(
        query_pl(con, "SELECT * EXCLUDE (created_at) FROM benchmark_latest").to_dicts()
    )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest.setdefault("meta", {})["benchmark"] = rows
    card = with_benchmark_section(card_path.read_text(encoding="utf-8"), rows)
    for path, text in (
        (manifest_path, json.dumps(manifest, indent=2, default=str)),
        (card_path, card),
    ):
        staged = path.with_name(f".{path.name}.tmp")
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, path)  # readers see the old file or the new one, never half
    return True
