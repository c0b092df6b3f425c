"""The demo: the whole pipeline on the bundled sample, then a summary a person can read.

    python -m mkailin_assets.demo [--fresh] [--db PATH]

Runs with the real Dagster machinery (materializations recorded in the instance at $DAGSTER_HOME,
or an ephemeral one), the embedded DuckDB file and the offline LLM backend unless MKAILIN_LLM_*
says otherwise. A second run is incremental: nothing changed, so no LLM call is sent.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mkailin_assets import preflight, settings
from mkailin_assets.checks import gx_runner
from mkailin_assets.db import snapshot_path
from mkailin_assets.sql_files import analysis_sql

QA_STAGES = ["candidate_qa", "evaluated_qa"]
# Dagster's console logger prints every event at DEBUG; the demo shows its own summary instead
# (the events are still in the instance, and in the UI).
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def configure_environment(db_path: str | None) -> None:
    """Point the pipeline at the bundled sample and the offline backend unless the user chose otherwise."""
    os.environ.setdefault("MKAILIN_MESH_SOURCE", str(settings.SAMPLE_MESH_SOURCE))
    os.environ.setdefault("MKAILIN_PUBMED_SOURCE", str(settings.SAMPLE_PUBMED_SOURCE))
    os.environ.setdefault("MKAILIN_LLM_BACKEND", "offline")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if db_path:
        os.environ["MKAILIN_DUCKDB_PATH"] = db_path


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def categories_with_abstracts() -> list[str]:
    from mkailin_assets.db import open_connection

    con = open_connection(settings.get_settings().duckdb_path, read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT category FROM raw_abstracts ORDER BY category"
        ).fetchall()
    finally:
        con.close()
    return [row[0] for row in rows]


def run_pipeline(log=print) -> dict[str, float]:
    """Materialize every asset for every partition the sample can fill, in dependency order,
    skipping each step whose fingerprint (code, settings, inputs, upstream) is unchanged
    (mkailin_assets/incremental.py)."""
    import dagster as dg

    from mkailin_assets.automation.abandoned_runs import process_tags, release_abandoned_runs
    from mkailin_assets.definitions import ASSETS, defs
    from mkailin_assets.incremental import Fingerprints
    from mkailin_assets.ingest.sources import list_release_files
    from mkailin_assets.partitions import CATEGORY_LETTERS

    instance = _instance()
    for run_id in release_abandoned_runs(instance):
        log(f"run {run_id} of a process that is gone: marked failed, its pool slot freed")
    resources = defs.resources
    timings: dict[str, float] = {}
    current = settings.get_settings()
    fingerprints = Fingerprints.for_current_settings(current.duckdb_path)
    skipped: list[int] = [0]

    # A real model may fail a partition's checks (a 135M local model often does): the demo then
    # says so and goes on with the other categories; offline, any failure is a bug and stops it.
    tolerate = current.llm_backend != "offline"

    def materialize(
        selection: list[str],
        partition_key: str | None,
        upstream: list[tuple[str, str]],
        inputs: tuple[str, ...] = (),
    ) -> None:
        step = ("+".join(selection), partition_key or "")
        fingerprint = fingerprints.of(step, upstream, inputs)
        if fingerprints.unchanged(step, fingerprint):
            skipped[0] += 1
            return
        goes_on = tolerate and selection[0] in (*QA_STAGES, "training_set", "training_export")
        result = dg.materialize(
            ASSETS,
            selection=selection,
            partition_key=partition_key,
            instance=instance,
            resources=resources,
            raise_on_error=not goes_on,
            run_config=QUIET_RUN_CONFIG,
            tags=process_tags(),
        )
        if not result.success and goes_on:
            log(f"{'/'.join(selection)} [{partition_key}] stopped: see its checks in the run")
        elif not result.success:
            raise RuntimeError(f"materialization of {selection} [{partition_key}] failed")
        else:  # the files it wrote are part of its inputs (a deleted export is written again)
            fingerprints.record(step, fingerprints.of(step, upstream, inputs))

    def phase(name: str, started: float) -> str:
        timings[name] = time.perf_counter() - started
        note = f", {skipped[0]} unchanged step(s) skipped" if skipped[0] else ""
        skipped[0] = 0
        return f"in {timings[name]:.1f}s{note}"

    vocabulary = [("mesh_vocabulary", "")]
    started = time.perf_counter()
    materialize(["mesh_vocabulary"], None, [])
    for letter in CATEGORY_LETTERS:
        materialize(["mesh_tree"], letter, vocabulary)
    log(f"mesh_vocabulary and mesh_tree (16 partitions) {phase('mesh_tree', started)}")

    started = time.perf_counter()
    releases = list_release_files(current.pubmed_source)
    files = [rf.name for rf in releases]
    known = set(instance.get_dynamic_partitions("pubmed_files"))
    instance.add_dynamic_partitions("pubmed_files", [f for f in files if f not in known])
    for release in releases:
        materialize(["pubmed_files"], release.name, vocabulary, (release.location,))
    log(f"pubmed_files: {len(files)} release files {phase('pubmed_files', started)}")

    corpus = [("pubmed_files", name) for name in files]
    started = time.perf_counter()
    for letter in CATEGORY_LETTERS:
        materialize(["raw_abstracts"], letter, [("mesh_tree", letter), *vocabulary, *corpus])
    covered = categories_with_abstracts()
    log(
        f"raw_abstracts: 16 categories {phase('raw_abstracts', started)}; abstracts in "
        f"{len(covered)} of them: {', '.join(covered) or 'none'}"
    )

    started = time.perf_counter()
    qa_step = "+".join(QA_STAGES)
    for letter in covered:
        materialize(QA_STAGES, letter, [("raw_abstracts", letter), *vocabulary, *corpus])
    log(f"candidate_qa → evaluated_qa: {len(covered)} categories {phase('qa', started)}")

    started = time.perf_counter()
    # Every category's evaluated QA exists before any training set is built, so cross-category
    # deduplication sees them all.
    every_qa = [(qa_step, letter) for letter in covered]
    for letter in covered:
        materialize(["training_set"], letter, every_qa)
    manifest = str(current.export_dir / "manifest.json")
    every_set = [("training_set", letter) for letter in covered]
    materialize(["training_export"], None, every_set, (manifest,))
    log(f"training_set + export {phase('training', started)}")
    return timings


def llm_call_count(db_path: str) -> int:
    from mkailin_assets.db import open_connection

    if not Path(db_path).exists():
        return 0
    con = open_connection(db_path, read_only=True)
    try:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        return (
            con.execute("SELECT count(*) FROM llm_calls").fetchall()[0][0]
            if "llm_calls" in tables
            else 0
        )
    finally:
        con.close()


@dataclass(frozen=True)
class SummaryColumn:
    name: str  # the column of sql/analysis/demo_summary.sql
    header: str  # what the demo prints above it
    width: int  # at least; a column widens to its longest value (category names are never cut)
    meaning: str  # the legend line under the table


# The per-category table of the summary: the query's columns, in order, and how they are shown.
SUMMARY_COLUMNS = (
    SummaryColumn("letter", "cat", 3, "MeSH top-level category (tree letter)"),
    SummaryColumn("name", "name", 4, "its name"),
    SummaryColumn("mesh_nodes", "mesh", 6, "MeSH tree nodes of the category (mesh_tree)"),
    SummaryColumn("abstracts", "abstracts", 9, "source abstracts placed in it (raw_abstracts)"),
    SummaryColumn("questions", "questions", 9, "questions the agents wrote (candidate_qa, ok)"),
    SummaryColumn(
        "pairs",
        "pairs",
        6,
        "preference pairs: two questions on one abstract whose MeSH scores differ by the margin",
    ),
    SummaryColumn("answers", "answers", 7, "preferred questions answered without a flag"),
    SummaryColumn("flagged", "flagged", 7, "answers flagged (insufficient context, no citation)"),
    SummaryColumn("sft", "sft", 5, "SFT records in training_set (one per category membership)"),
    SummaryColumn("dpo", "dpo", 5, "DPO records in training_set"),
    SummaryColumn("splits", "train/val/test", 14, "SFT records per split"),
)


def summary_table(rows: list[tuple]) -> list[str]:
    """The per-category table, each column as wide as its header or longest value, and a legend."""
    cells = [[str(v) if v is not None else "-" for v in row] for row in rows]
    widths = [
        max([column.width, len(column.header), *(len(r[i]) for r in cells)])
        for i, column in enumerate(SUMMARY_COLUMNS)
    ]
    headers = [column.header for column in SUMMARY_COLUMNS]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.append("")
    lines += [f"  {c.header:<14} {c.meaning}" for c in SUMMARY_COLUMNS[2:]]
    return lines


def export_line(export_dir: Path) -> str:
    """The export's own counts (manifest.json) and the rule that makes them differ from the
    per-category table above."""
    import json

    from mkailin_assets.curation.export import MULTI_CATEGORY_RULE

    manifest_path = export_dir / "manifest.json"
    if not manifest_path.exists():
        return "export: not written yet (materialize training_export)"
    manifest = json.loads(manifest_path.read_text())
    kinds = ", ".join(
        f"{kind} {sum(splits.values())}" for kind, splits in manifest.get("counts", {}).items()
    )
    return f"export (manifest.json): {manifest.get('records', 0)} records ({kinds}). {MULTI_CATEGORY_RULE}"


def summary(db_path: str) -> str:
    """Per-category figures straight from the DuckDB file."""
    from mkailin_assets.db import open_connection

    con = open_connection(db_path, read_only=True)
    try:
        query = con.execute(analysis_sql("demo_summary.sql"))
        columns = [description[0] for description in query.description]
        if columns != [column.name for column in SUMMARY_COLUMNS]:
            raise RuntimeError(f"demo_summary.sql returns {columns}, not SUMMARY_COLUMNS")
        rows = query.fetchall()
        llm = con.execute(
            "SELECT model, count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status <> 'ok') "
            "FROM llm_calls GROUP BY model ORDER BY model"
        ).fetchall()
        totals = con.execute(
            "SELECT (SELECT count(*) FROM citations), (SELECT count(*) FROM deleted_citations), "
            "(SELECT count(*) FROM quarantine), (SELECT count(*) FROM pubmed_files)"
        ).fetchone()
    finally:
        con.close()
    lines = summary_table(rows)
    lines.append("")
    lines.append(
        f"citations: {totals[0]}  deleted: {totals[1]}  quarantined rows: {totals[2]}  release files: {totals[3]}"
    )
    for model, ok, failed in llm:
        lines.append(f"LLM calls cached for {model}: {ok} ok, {failed} failed")
    if any(model.startswith("offline-") for model, _, _ in llm):
        lines.append(
            "The offline backend wrote these records to run the pipeline without a model: they "
            "are not training data (the dataset card says so too); MKAILIN_LLM_BACKEND picks a model."
        )
    export_dir = settings.get_settings().export_dir
    lines.append(export_line(export_dir))
    lines.append(f"DuckDB file: {db_path}   exports: {export_dir}")
    snapshot = snapshot_path(db_path)
    lines.append(
        f"Query it (safe while runs write: the read snapshot, refreshed after every write up "
        f"to {settings.get_settings().read_snapshot_inline_max_mb} MB, past that once runs end): "
        f".venv/bin/python -c \"import duckdb; print(duckdb.connect('{snapshot}', "
        "read_only=True).sql('FROM qa_per_category'))\"  (views: sql/analysis/)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db", help="DuckDB file (default: MKAILIN_DUCKDB_PATH or data/mkailin.duckdb)"
    )
    parser.add_argument("--fresh", action="store_true", help="delete the DuckDB file first")
    args = parser.parse_args(argv)
    configure_environment(args.db)
    preflight.exit_on_problems(network=True)  # every setting, before any work
    db_path = settings.get_settings().duckdb_path
    if args.fresh:
        for suffix in ("", ".wal"):
            Path(db_path + suffix).unlink(missing_ok=True)
    print(
        f"mkailin demo: sample data in {settings.SAMPLE_DIR}, DuckDB {db_path}, "
        f"LLM backend {settings.get_settings().llm_backend}"
    )
    calls_before = llm_call_count(db_path)
    started = time.perf_counter()
    # One process materializes everything: GX imported here once beats a request to the GX
    # service per check, and the demo leaves no service behind.
    gx_runner.validate_in_this_process()
    run_pipeline()
    new_calls = llm_call_count(db_path) - calls_before
    print(
        f"\npipeline finished in {time.perf_counter() - started:.1f}s; "
        f"new LLM calls this run: {new_calls} (everything else answered from the cache)\n"
    )
    print(summary(db_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
