"""Load one PubMed release file into DuckDB: stage, upsert (newest version wins), delete, ledger.

Everything for one file happens in one transaction: a file that fails half-way (truncated gzip,
malformed XML, a crash) leaves the database exactly as it was.

Counting identity guaranteed by every LoadReport (and tested):
    articles_read = citations_upserted + citations_skipped_older + duplicates_in_file + quarantined
where articles_read counts PubmedArticle and PubmedBookArticle records, `duplicates_in_file`
counts the records beyond the first for each PMID repeated within the file, `skipped_older`
counts distinct PMIDs whose stored version is newer, and `quarantined` counts article records
without a usable PMID. DeleteCitation PMIDs are counted apart, in `deletions` (distinct PMIDs);
unusable PMIDs inside DeleteCitation go to quarantine and to `deletions_quarantined`.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mkailin_assets.db import transaction
from mkailin_assets.ingest.errors import ChecksumMismatchError
from mkailin_assets.ingest.pubmed_batches import iter_pubmed_batches, parser_description
from mkailin_assets.ingest.pubmed_chunks import ParsedBatch
from mkailin_assets.ingest.pubmed_columns import CitationColumns
from mkailin_assets.ingest.pubmed_records import QuarantinedRecord

QUARANTINE_ASSET = "pubmed_files"
# Files smaller than this stream through iterparse in the caller's thread; bigger ones go to
# parser worker processes (parse_workers), whose start-up would not pay off on a small file.
PARALLEL_MIN_BYTES = 2 << 20
_MD5_LINE = re.compile(r"^\s*MD5\s*\((?P<name>[^)]*)\)\s*=\s*(?P<md5>[0-9a-fA-F]{32})\s*$")

# Citations and headings stay in the parsers' Arrow tables until the upsert reads them once (a
# copy into temp tables first was a whole extra pass); deletions are staged in a temp table.
_STAGE_DDL = {"_stage_deletions": "pmid BIGINT"}
_STAGE_CITATIONS = "_stage_citations"
_STAGE_HEADINGS = "_stage_headings"


@dataclass
class LoadReport:
    file_name: str
    kind: str
    articles_read: int = 0
    citations_upserted: int = 0
    citations_skipped_older: int = 0
    duplicates_in_file: int = 0
    deletions: int = 0
    quarantined: int = 0
    deletions_quarantined: int = 0
    changed_pmids: list[int] = field(default_factory=list)
    skipped_as_already_loaded: bool = False
    md5_verified: bool = False
    sha256: str = ""
    seconds: float = 0.0
    parser: str = ""
    # Where the time went: parse (reading, parsing, staging), apply (upsert, deletions, ledger),
    # commit (DuckDB's WAL write and checkpoint).
    phase_seconds: dict[str, float] = field(default_factory=dict)

    def reconciles(self) -> bool:
        """The counting identity documented at the top of this module."""
        return self.articles_read == (
            self.citations_upserted
            + self.citations_skipped_older
            + self.duplicates_in_file
            + self.quarantined
        )


def read_md5_file(path: str | Path) -> str:
    """NLM's `<file>.md5` holds one line `MD5(pubmed25n0001.xml.gz)= <32 hex>`."""
    text = Path(path).read_text(encoding="ascii", errors="replace").strip()
    match = _MD5_LINE.match(text)
    if match:
        return match.group("md5").lower()
    token = text.split()[0] if text else ""  # also accept plain `md5sum` output
    if re.fullmatch(r"[0-9a-fA-F]{32}", token):
        return token.lower()
    raise ValueError(f"{path}: not an md5 file (expected 'MD5(name)= <hex>')")


def file_digests(path: Path) -> tuple[str, str, int]:
    """(sha256, md5, bytes) in one pass over the file."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            sha256.update(block)
            md5.update(block)
            size += len(block)
    return sha256.hexdigest(), md5.hexdigest(), size


def default_workers(size: int) -> int:
    """Parser processes for a file of `size` bytes: up to 2 for big files, none for small ones."""
    return min(2, os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 0


def infer_kind(path: Path, source: str | None) -> str:
    """NLM's layout says it: files under updatefiles/ are updates, everything else baseline."""
    where = f"{source or ''}/{path.parent.name}".lower()
    return "update" if "updatefiles" in where else "baseline"


def load_pubmed_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    file_name: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    expected_md5: str | None = None,
    batch_size: int = 5_000,
    workers: int | None = None,
) -> LoadReport:
    """Load one release file (see the module docstring for the counts). Idempotent per
    (file name, sha256). When expected_md5 is None and `<path>.md5` exists beside the file, that
    md5 is verified. workers: parser processes (default: 2 for big files, 0 for small ones)."""
    started = time.perf_counter()
    path = Path(path)
    name = file_name or path.name
    kind = kind or infer_kind(path, source)
    if kind not in ("baseline", "update"):
        raise ValueError(f"kind must be 'baseline' or 'update', not {kind!r}")
    if expected_md5 is None and Path(f"{path}.md5").exists():
        expected_md5 = read_md5_file(f"{path}.md5")
    sha256, md5, size = file_digests(path)
    if expected_md5 is not None and md5 != expected_md5.lower():
        raise ChecksumMismatchError(
            f"{name}: md5 {md5} does not match the published {expected_md5.lower()}"
        )
    report = LoadReport(
        file_name=name, kind=kind, sha256=sha256, md5_verified=expected_md5 is not None
    )
    if _already_loaded(con, name, sha256):
        report.skipped_as_already_loaded = True
        report.seconds = time.perf_counter() - started
        return report
    if workers is None:
        workers = default_workers(size)
    report.parser = parser_description(workers)

    source = source or str(path)
    _load_in_transaction(con, path, report, source, expected_md5, size, batch_size, workers)
    report.seconds = time.perf_counter() - started
    return report


def _load_in_transaction(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    report: LoadReport,
    source: str,
    expected_md5: str | None,
    size: int,
    batch_size: int,
    workers: int,
) -> None:
    """Stage, apply and record one file; DDL is transactional in DuckDB, so on any error the
    ROLLBACK also drops the stage tables (and the Arrow views are unregistered)."""
    started = time.perf_counter()
    with transaction(con):
        _create_stage_tables(con)
        quarantined: list[QuarantinedRecord] = []
        frames: dict[str, list[pa.Table]] = {"citations": [], "headings": []}
        for batch in iter_pubmed_batches(
            path, file_name=report.file_name, batch_size=batch_size, workers=workers
        ):
            for name, frame in _stage_batch(con, batch).items():
                frames[name].append(frame)
            report.articles_read += batch.articles_read
            quarantined.extend(batch.quarantined)
        parsed = time.perf_counter()
        report.quarantined = sum(
            1 for q in quarantined if not q.reason.startswith("DeleteCitation")
        )
        report.deletions_quarantined = len(quarantined) - report.quarantined
        con.register(_STAGE_CITATIONS, _concat(frames["citations"], "citations"))
        con.register(_STAGE_HEADINGS, _concat(frames["headings"], "headings"))
        try:
            _apply_stage(con, report)
        finally:
            con.unregister(_STAGE_CITATIONS)
            con.unregister(_STAGE_HEADINGS)
        _write_quarantine(con, report.file_name, quarantined)
        _write_ledger(con, report, source, expected_md5, size)
        _drop_stage_tables(con)
        applied = time.perf_counter()
    report.phase_seconds = {
        "parse": parsed - started,
        "apply": applied - parsed,
        "commit": time.perf_counter() - applied,
    }


def _already_loaded(con: duckdb.DuckDBPyConnection, name: str, sha256: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM pubmed_files WHERE file_name = ? AND sha256 = ?", [name, sha256]
    ).fetchone()
    return bool(row and row[0])


def _create_stage_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in _STAGE_DDL.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({columns})")


def _drop_stage_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in _STAGE_DDL:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute("DROP TABLE IF EXISTS _winners")


def _stage_batch(con: duckdb.DuckDBPyConnection, batch: ParsedBatch) -> dict[str, pa.Table]:
    """Stage a batch's deletions; return its citations and headings (Arrow tables)."""
    tables = batch.freeze().tables or {}
    if batch.deleted_pmids:
        frame = pa.table({"pmid": pa.array(batch.deleted_pmids, type=pa.int64())})
        _insert_frame(con, "_stage_deletions", frame)
    return {"citations": tables["citations"], "headings": tables["headings"]}


def _concat(frames: list[pa.Table], name: str) -> pa.Table:
    """All batches as one table without copying (an empty one, typed, for an empty file)."""
    frames = [frame for frame in frames if frame.num_rows] or [CitationColumns().tables()[name]]
    return pa.concat_tables(frames)


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: Any) -> None:
    con.register("_ingest_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _ingest_frame")
    finally:
        con.unregister("_ingest_frame")


# The winner per PMID: highest version, then the later record of this file; it replaces the
# stored citation unless the stored version is higher (same version: this, later, file wins).
_WINNERS_SQL = """
CREATE TEMP TABLE _winners AS
WITH best AS (
    SELECT seq, pmid, version, content_hash FROM _stage_citations
    QUALIFY row_number() OVER (PARTITION BY pmid ORDER BY version DESC, seq DESC) = 1
)
SELECT best.seq, best.pmid, stored.pmid IS NULL AS is_new,
       stored.content_hash IS DISTINCT FROM best.content_hash AS is_changed
FROM best LEFT JOIN citations AS stored USING (pmid)
WHERE stored.pmid IS NULL OR stored.version <= best.version
"""

_WINNER_ROWS = """
INSERT INTO citations (pmid, version, title, abstract, abstract_sections, languages, journal,
    pub_year, publication_types, mesh_headings, keywords, doi, date_revised, status,
    source_file, content_hash, loaded_at)
SELECT s.pmid, s.version, s.title, s.abstract, s.abstract_sections, s.languages, s.journal,
       s.pub_year, s.publication_types, s.mesh_headings, s.keywords, s.doi, s.date_revised,
       s.status, $file_name, s.content_hash, $now
FROM _stage_citations AS s JOIN _winners AS w USING (seq)
"""
# New PMIDs take the plain insert path; only PMIDs already stored pay for ON CONFLICT.
_INSERT_NEW_SQL = _WINNER_ROWS + "WHERE w.is_new"
_UPDATE_STORED_SQL = (
    _WINNER_ROWS
    + """WHERE NOT w.is_new
ON CONFLICT (pmid) DO UPDATE SET
    version = excluded.version, title = excluded.title, abstract = excluded.abstract,
    abstract_sections = excluded.abstract_sections, languages = excluded.languages,
    journal = excluded.journal, pub_year = excluded.pub_year,
    publication_types = excluded.publication_types, mesh_headings = excluded.mesh_headings,
    keywords = excluded.keywords, doi = excluded.doi, date_revised = excluded.date_revised,
    status = excluded.status, source_file = excluded.source_file,
    content_hash = excluded.content_hash, loaded_at = excluded.loaded_at
"""
)

_REWRITE_MESH_SQL = (
    "DELETE FROM citation_mesh WHERE pmid IN (SELECT pmid FROM _winners WHERE is_new OR is_changed)",
    """INSERT INTO citation_mesh (pmid, descriptor_ui, major_topic)
       SELECT w.pmid, h.descriptor_ui, bool_or(h.major_topic)
       FROM _winners AS w JOIN _stage_headings AS h USING (seq)
       WHERE w.is_new OR w.is_changed
       GROUP BY w.pmid, h.descriptor_ui""",
)


def _apply_stage(con: duckdb.DuckDBPyConnection, report: LoadReport) -> None:
    """Set-based: winners, upsert, MeSH rows, resurrections, then deletions."""
    staged, distinct = con.execute(
        "SELECT count(*), count(DISTINCT pmid) FROM _stage_citations"
    ).fetchone()
    report.duplicates_in_file = staged - distinct
    con.execute(_WINNERS_SQL)
    report.citations_upserted = con.execute("SELECT count(*) FROM _winners").fetchone()[0]
    report.citations_skipped_older = distinct - report.citations_upserted
    now = con.execute("SELECT now()::TIMESTAMP").fetchone()[0]
    parameters = {"file_name": report.file_name, "now": now}
    con.execute(_INSERT_NEW_SQL, parameters)
    con.execute(_UPDATE_STORED_SQL, parameters)
    for statement in _REWRITE_MESH_SQL:
        con.execute(statement)
    # A later file that brings a deleted PMID back un-deletes it.
    con.execute("DELETE FROM deleted_citations WHERE pmid IN (SELECT pmid FROM _winners)")
    changed = {
        row[0]
        for row in con.execute("SELECT pmid FROM _winners WHERE is_new OR is_changed").fetchall()
    }
    report.deletions, deleted_known = _apply_deletions(con, report.file_name, now)
    changed.update(deleted_known)
    report.changed_pmids = sorted(changed)


def _apply_deletions(
    con: duckdb.DuckDBPyConnection, file_name: str, now: Any
) -> tuple[int, list[int]]:
    """Remove deleted PMIDs (after the upserts) and record them with whether we knew them."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _deleted AS "
        "SELECT DISTINCT d.pmid, c.pmid IS NOT NULL AS was_known "
        "FROM _stage_deletions AS d LEFT JOIN citations AS c USING (pmid)"
    )
    try:
        con.execute("DELETE FROM citation_mesh WHERE pmid IN (SELECT pmid FROM _deleted)")
        con.execute("DELETE FROM citations WHERE pmid IN (SELECT pmid FROM _deleted)")
        con.execute(
            "INSERT INTO deleted_citations (pmid, file_name, was_known, deleted_at) "
            "SELECT pmid, ?, was_known, ? FROM _deleted "
            "ON CONFLICT (pmid) DO UPDATE SET file_name = excluded.file_name, "
            "was_known = excluded.was_known OR deleted_citations.was_known, "
            "deleted_at = excluded.deleted_at",
            [file_name, now],
        )
        count = con.execute("SELECT count(*) FROM _deleted").fetchone()[0]
        known = [r[0] for r in con.execute("SELECT pmid FROM _deleted WHERE was_known").fetchall()]
    finally:
        con.execute("DROP TABLE IF EXISTS _deleted")
    return count, known


def _write_quarantine(
    con: duckdb.DuckDBPyConnection, file_name: str, records: list[QuarantinedRecord]
) -> None:
    # A re-load of a changed file replaces that file's earlier quarantine rows.
    con.execute(
        "DELETE FROM quarantine WHERE asset = ? AND source = ?", [QUARANTINE_ASSET, file_name]
    )
    if not records:
        return
    rows = [
        (
            QUARANTINE_ASSET,
            file_name,
            f"line {r.line}" if r.line else None,
            r.record_key,
            r.reason,
            r.raw_excerpt,
        )
        for r in records
    ]
    con.executemany(
        "INSERT INTO quarantine (asset, source, position, record_key, reason, raw_excerpt,"
        " quarantined_at) VALUES (?, ?, ?, ?, ?, ?, now())",
        rows,
    )


def _write_ledger(
    con: duckdb.DuckDBPyConnection,
    report: LoadReport,
    source: str,
    expected_md5: str | None,
    size: int,
) -> None:
    con.execute("DELETE FROM pubmed_files WHERE file_name = ?", [report.file_name])
    con.execute(
        "INSERT INTO pubmed_files (file_name, kind, source, md5, md5_verified, sha256, bytes,"
        " articles_read, citations_upserted, citations_skipped_older, duplicates_in_file,"
        " deletions, quarantined, changed_pmids, loaded_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            report.file_name,
            report.kind,
            source,
            expected_md5.lower() if expected_md5 else None,
            expected_md5 is not None,
            report.sha256,
            size,
            report.articles_read,
            report.citations_upserted,
            report.citations_skipped_older,
            report.duplicates_in_file,
            report.deletions,
            report.quarantined,
            report.changed_pmids,
        ],
    )
