"""mesh_vocabulary, mesh_tree and pubmed_files: NLM's files loaded into DuckDB, with what they
changed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from mkailin_assets.ingest.mesh_xml import (
    MeshLoadReport,
    load_mesh_descriptors,
    vocabulary_source,
    write_mesh_tree_partition,
)
from mkailin_assets.ingest.pubmed_loader import LoadReport, load_pubmed_file
from mkailin_assets.ingest.sources import (
    LocalReleaseFile,
    ReleaseFile,
    fetch_release_file,
    list_release_files,
)
from mkailin_assets.stages.tables import Preview, fetch_preview


class ReleaseOrderError(RuntimeError):
    """An update file was requested before the files that precede it were loaded."""


# ---- mesh_tree -----------------------------------------------------------------------------

MESH_PREVIEW_SQL = """
SELECT tree_number, descriptor_ui, descriptor_name, depth FROM mesh_tree
WHERE category = ? ORDER BY tree_number
"""


@dataclass(frozen=True)
class MeshVocabularyResult:
    report: MeshLoadReport
    tree_numbers_by_category: dict[str, int]


def load_mesh_vocabulary(
    con: duckdb.DuckDBPyConnection, source_path: Path, expected_year: int | None
) -> MeshVocabularyResult:
    """Load the whole descriptor file (a no-op when it is the one loaded) into mesh_descriptors
    and mesh_vocabulary."""
    report = load_mesh_descriptors(con, source_path, expected_year=expected_year)
    counts = con.execute(
        "SELECT category, count(*) FROM mesh_vocabulary GROUP BY category ORDER BY category"
    ).fetchall()
    return MeshVocabularyResult(report, {str(k): int(v) for k, v in counts})


@dataclass(frozen=True)
class MeshTreeResult:
    rows: int
    depth_counts: dict[str, int]
    mesh_sha256: str | None
    mesh_year: int | None
    preview: Preview


def load_mesh_category(con: duckdb.DuckDBPyConnection, category: str) -> MeshTreeResult:
    """Rebuild one category's tree from the loaded vocabulary (mesh_vocabulary first)."""
    rows = write_mesh_tree_partition(con, category)
    sha256, mesh_year = vocabulary_source(con) or (None, None)
    depths = con.execute(
        "SELECT depth, count(*) FROM mesh_tree WHERE category = ? GROUP BY depth ORDER BY depth",
        [category],
    ).fetchall()
    return MeshTreeResult(
        rows=rows,
        depth_counts={str(depth): int(count) for depth, count in depths},
        mesh_sha256=sha256,
        mesh_year=mesh_year,
        preview=fetch_preview(con, MESH_PREVIEW_SQL, [category]),
    )


# ---- pubmed_files --------------------------------------------------------------------------

AFFECTED_CATEGORIES_SQL = """
WITH changed AS (SELECT unnest(?::BIGINT[]) AS pmid),
heads AS (
    SELECT cm.pmid, cm.descriptor_ui, cm.major_topic,
           bool_or(cm.major_topic) OVER (PARTITION BY cm.pmid) AS has_major
    FROM citation_mesh cm JOIN changed USING (pmid)
)
SELECT DISTINCT t.category FROM heads h JOIN mesh_vocabulary t USING (descriptor_ui)
WHERE h.major_topic OR NOT h.has_major
UNION
SELECT DISTINCT r.category FROM raw_abstracts r JOIN changed USING (pmid)
ORDER BY 1
"""

# The file's own totals after the load (citations whose latest version it holds); a citation
# with MeSH whose headings all lack tree numbers (e.g. only Male/Female, or descriptors missing from
# the tree) belongs to no category: counted, not hidden. Only the file's rows are read, so a load
# costs the same with 30,000 citations in the corpus or 37M; the corpus size is one count(*).
FILE_CITATION_TOTALS_SQL = """
SELECT (SELECT count(*) FROM citations), count(*), count(abstract),
       count(*) FILTER (WHERE len(mesh_headings) > 0),
       count(*) FILTER (WHERE len(mesh_headings) > 0 AND NOT EXISTS (
           SELECT 1 FROM citation_mesh cm JOIN mesh_vocabulary t USING (descriptor_ui)
           WHERE cm.pmid = citations.pmid))
FROM citations WHERE source_file = ?
"""


@dataclass(frozen=True)
class FetchedRelease:
    """A release file on local disk, with the source's order of every file it lists."""

    release: ReleaseFile
    local: LocalReleaseFile
    ordered_names: list[str]


@dataclass(frozen=True)
class CitationTotals:
    corpus_citations: int
    citations: int  # the file's own, as are the counts below
    with_abstract: int
    with_mesh: int
    with_mesh_but_no_category: int


@dataclass(frozen=True)
class ReleaseLoadResult:
    report: LoadReport
    affected_categories: list[str]
    totals: CitationTotals


def fetch_release(source: str, file_name: str, download_dir: Path) -> FetchedRelease:
    """Find the file in the source's listing and bring it to local disk (before the DB opens)."""
    releases = {release.name: release for release in list_release_files(source)}
    if file_name not in releases:
        raise FileNotFoundError(f"{file_name} is not listed in {source}")
    local = fetch_release_file(releases[file_name], download_dir)
    return FetchedRelease(releases[file_name], local, list(releases))


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


def citation_totals(con: duckdb.DuckDBPyConnection, file_name: str) -> CitationTotals:
    row = con.execute(FILE_CITATION_TOTALS_SQL, [file_name]).fetchall()[0]
    return CitationTotals(*(int(v) for v in row))


def load_release(con: duckdb.DuckDBPyConnection, fetched: FetchedRelease) -> ReleaseLoadResult:
    """Upsert the file's citations (in release order), and say which categories it touched."""
    name = fetched.release.name
    loaded = {row[0] for row in con.execute("SELECT file_name FROM pubmed_files").fetchall()}
    ensure_in_order(loaded, fetched.ordered_names, name)
    report = load_pubmed_file(
        con,
        fetched.local.path,
        file_name=name,
        source=str(fetched.release.location),
        expected_md5=fetched.local.expected_md5,
        kind=fetched.release.kind,
    )
    return ReleaseLoadResult(
        report=report,
        affected_categories=affected_categories(con, list(report.changed_pmids)),
        totals=citation_totals(con, name),
    )
