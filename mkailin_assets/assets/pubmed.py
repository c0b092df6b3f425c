"""pubmed_files: one dynamic partition per PubMed release file, upserted into `citations`."""

import dagster as dg
import duckdb

from mkailin_assets import settings
from mkailin_assets.checks.ingest_checks import PUBMED_FILES_CHECKS, pubmed_files_checks
from mkailin_assets.ingest.pubmed_loader import load_pubmed_file
from mkailin_assets.ingest.sources import fetch_release_file, list_release_files
from mkailin_assets.partitions import pubmed_file_partitions
from mkailin_assets.resources.duckdb_store import DuckDBStore


class ReleaseOrderError(RuntimeError):
    """An update file was requested before the files that precede it were loaded."""


AFFECTED_CATEGORIES_SQL = """
WITH changed AS (SELECT unnest(?::BIGINT[]) AS pmid),
heads AS (
    SELECT cm.pmid, cm.descriptor_ui, cm.major_topic,
           bool_or(cm.major_topic) OVER (PARTITION BY cm.pmid) AS has_major
    FROM citation_mesh cm JOIN changed USING (pmid)
)
SELECT DISTINCT t.category FROM heads h JOIN mesh_tree t USING (descriptor_ui)
WHERE h.major_topic OR NOT h.has_major
UNION
SELECT DISTINCT r.category FROM raw_abstracts r JOIN changed USING (pmid)
ORDER BY 1
"""


# Totals after the load; a citation with MeSH whose headings all lack tree numbers (e.g. only
# Male/Female, or descriptors missing from the tree) belongs to no category: counted, not hidden.
CITATION_TOTALS_SQL = """
SELECT count(*), count(abstract),
       count(*) FILTER (WHERE len(mesh_headings) > 0),
       count(*) FILTER (WHERE len(mesh_headings) > 0 AND NOT EXISTS (
           SELECT 1 FROM citation_mesh cm JOIN mesh_tree t USING (descriptor_ui)
           WHERE cm.pmid = citations.pmid))
FROM citations
"""


def affected_categories(con: duckdb.DuckDBPyConnection, changed_pmids: list[int]) -> list[str]:
    """Categories whose raw_abstracts a file changes: where changed citations now belong, and
    where they (or deleted ones) were before."""
    if not changed_pmids:
        return []
    return [
        row[0] for row in con.execute(AFFECTED_CATEGORIES_SQL, [list(changed_pmids)]).fetchall()
    ]


def ensure_in_order(loaded: set[str], ordered_names: list[str], file_name: str) -> None:
    """Updates must apply in NLM's order: every earlier listed file must already be loaded."""
    earlier = ordered_names[: ordered_names.index(file_name)]
    missing = [name for name in earlier if name not in loaded]
    if missing:
        raise ReleaseOrderError(
            f"{file_name} cannot be loaded before {len(missing)} earlier release file(s): "
            f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}"
        )


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
        "`citations` by PMID (newest version wins), DeleteCitation applied, ledger row in `pubmed_files`."
    ),
)
def pubmed_files(context: dg.AssetExecutionContext, duckdb_store: DuckDBStore):
    file_name = context.partition_key
    config = settings.get_settings()
    releases = {rf.name: rf for rf in list_release_files(config.pubmed_source)}
    if file_name not in releases:
        raise FileNotFoundError(f"{file_name} is not listed in {config.pubmed_source}")
    local = fetch_release_file(releases[file_name], config.download_dir)
    with duckdb_store.connect() as con:
        loaded = {row[0] for row in con.execute("SELECT file_name FROM pubmed_files").fetchall()}
        ensure_in_order(loaded, list(releases), file_name)
        report = load_pubmed_file(
            con,
            local.path,
            file_name=file_name,
            source=str(releases[file_name].location),
            expected_md5=local.expected_md5,
            kind=releases[file_name].kind,
        )
        affected = affected_categories(con, list(report.changed_pmids))
        totals = con.execute(CITATION_TOTALS_SQL).fetchall()[0]
        results = pubmed_files_checks(con, file_name)
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
            "affected_categories": ",".join(affected),
            "already_loaded": bool(report.skipped_as_already_loaded),
            "seconds": round(report.seconds, 2),
            "parser": report.parser or "none (already loaded)",
            **{f"seconds_{phase}": round(v, 2) for phase, v in report.phase_seconds.items()},
            "citations_total": totals[0],
            "citations_with_abstract": totals[1],
            "citations_with_mesh": totals[2],
            "citations_with_mesh_but_no_category": totals[3],
        }
    )
    yield from results
