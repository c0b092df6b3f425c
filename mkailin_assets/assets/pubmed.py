"""pubmed_files: one dynamic partition per PubMed release file, upserted into `citations`."""

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.checks.ingest_checks import PUBMED_FILES_CHECKS, pubmed_files_checks
from mkailin_assets.partitions import pubmed_file_partitions
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.method import MethodConfig
from mkailin_assets.stages.ingest import fetch_release, load_release
from mkailin_assets.stages.twins import record_twins, twin_indexes


@dg.asset(
    partitions_def=pubmed_file_partitions,
    pool="duckdb",
    kinds={"duckdb", "xml"},
    group_name="ingest",
    owners=["team:mkailin"],
    tags={"stage": "ingest"},
    check_specs=PUBMED_FILES_CHECKS,
    description=(
        "A PubMed baseline/update file from MKAILIN_PUBMED_SOURCE, stream-parsed and upserted into "
        "`citations` by PMID (newest version wins), DeleteCitation applied, ledger row in `pubmed_files`; "
        "its new and revised citations compared with the benchmark items (`benchmark_twins`)."
    ),
)
def pubmed_files(
    context: dg.AssetExecutionContext, duckdb_store: DuckDBStore, method: MethodConfig
):
    file_name = context.partition_key
    # Downloaded before the database opens: the writer lock is not held during a download.
    config = settings.get_settings()
    fetched = fetch_release(config.pubmed_source, file_name, config.download_dir)
    # The benchmarks first: a bad MKAILIN_DECONTAMINATION file fails before anything is written.
    benchmarks = twin_indexes(config.decontamination, method.ngram)
    with duckdb_store.connect() as con:
        result = load_release(con, fetched)
        # Benchmark twins among what this file changed (training excludes them).
        twins = record_twins(con, result.report.changed_pmids, file_name, benchmarks, method.ngram)
        checks = pubmed_files_checks(con, file_name)
    report, totals = result.report, result.totals
    yield dg.MaterializeResult(
        metadata={
            "kind": report.kind,
            "articles_read": report.articles_read,
            "citations_upserted": report.citations_upserted,
            "citations_skipped_older": report.citations_skipped_older,
            "duplicates_in_file": report.duplicates_in_file,
            "deletions": report.deletions,
            "quarantined": report.quarantined,
            "changed_pmids": len(report.changed_pmids),
            # Read by the refresh sensor: only these category partitions go stale.
            "affected_categories": ",".join(result.affected_categories),
            "already_loaded": bool(report.skipped_as_already_loaded),
            "seconds": round(report.seconds, 2),
            "parser": report.parser or "none (already loaded)",
            **{f"seconds_{phase}": round(v, 2) for phase, v in report.phase_seconds.items()},
            "citations_total": totals.corpus_citations,
            "file_citations": totals.citations,
            "file_citations_with_abstract": totals.with_abstract,
            "file_citations_with_mesh": totals.with_mesh,
            "file_citations_with_mesh_but_no_category": totals.with_mesh_but_no_category,
            **twins.metadata(),
            "benchmark_twins_per_benchmark": dg.MetadataValue.json(twins.per_benchmark),
        }
    )
    yield from checks
