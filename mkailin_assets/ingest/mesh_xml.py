"""MeSH descriptor XML: streaming parser, atomic loader of mesh_descriptors, mesh_tree partitions.

Reads NLM's descriptor files (descYYYY.xml / .gz, any year's layout: no date element is
required, the 2026 files drop DateCreated/DateRevised). Records with a malformed DescriptorUI, and
malformed tree numbers, are quarantined (asset 'mesh_tree'), never loaded.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from lxml import etree

from mkailin_assets.db import transaction
from mkailin_assets.ingest.errors import MeshFormatError, MeshYearMismatchError
from mkailin_assets.ingest.pubmed_records import open_release_file, syntax_reason

ROOT_TAG = "DescriptorRecordSet"
RECORD_TAG = "DescriptorRecord"
QUARANTINE_ASSET = "mesh_tree"
DESCRIPTOR_UI = re.compile(r"^D[0-9]+$")
TREE_NUMBER = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{3})*$")
_YEAR_IN_NAME = re.compile(r"(?:desc|mesh)(\d{4})", re.IGNORECASE)
_DATE_TAGS = ("DateCreated", "DateRevised", "DateEstablished", "DateIntroduced", "LastUpdated")
_EXCERPT_CHARS = 500


@dataclass(slots=True)
class Descriptor:
    descriptor_ui: str
    name: str
    descriptor_class: str | None
    tree_numbers: list[str]
    line: int | None = None


@dataclass(slots=True)
class MeshQuarantine:
    line: int | None
    record_key: str | None
    reason: str
    raw_excerpt: str


@dataclass
class MeshParseResult:
    descriptors: list[Descriptor] = field(default_factory=list)
    quarantined: list[MeshQuarantine] = field(default_factory=list)
    latest_date_year: int | None = None


@dataclass
class MeshLoadReport:
    source: str
    sha256: str
    mesh_year: int | None
    descriptors: int = 0
    tree_numbers: int = 0
    quarantined: int = 0
    skipped_as_already_loaded: bool = False


def year_from_name(name: str) -> int | None:
    """'desc2026.xml', 'desc2024.gz', 'mesh2024-trees.xml.gz' -> the year; else None."""
    match = _YEAR_IN_NAME.search(name)
    return int(match.group(1)) if match else None


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _record_latest_year(record: Any) -> int | None:
    years = []
    for child in record:
        if child.tag in _DATE_TAGS:
            year = child.findtext("Year")
            if year and year.strip().isdigit():
                years.append(int(year.strip()))
    return max(years) if years else None


def parse_descriptor(record: Any) -> tuple[Descriptor | None, list[MeshQuarantine]]:
    """One DescriptorRecord: only its direct children count (nested records refer to others)."""
    line = record.sourceline
    ui = (record.findtext("DescriptorUI") or "").strip()
    name = _text(record.find("DescriptorName/String"))
    problems: list[MeshQuarantine] = []
    if not DESCRIPTOR_UI.match(ui):
        excerpt = etree.tostring(record, encoding="unicode")[:_EXCERPT_CHARS]
        reason = "no DescriptorUI" if not ui else f"malformed DescriptorUI {ui!r}"
        return None, [MeshQuarantine(line, ui or None, reason, excerpt)]
    if not name:
        excerpt = etree.tostring(record, encoding="unicode")[:_EXCERPT_CHARS]
        return None, [MeshQuarantine(line, ui, "no DescriptorName/String", excerpt)]
    tree_numbers = []
    tree_list = record.find("TreeNumberList")
    for element in tree_list if tree_list is not None else ():
        if element.tag != "TreeNumber":
            continue
        tree_number = (element.text or "").strip()
        if TREE_NUMBER.match(tree_number):
            tree_numbers.append(tree_number)
        else:
            problems.append(
                MeshQuarantine(
                    element.sourceline, f"{ui} {tree_number}",
                    f"malformed tree number {tree_number!r} of {ui}", tree_number,
                )
            )  # fmt: skip
    return Descriptor(ui, name, record.get("DescriptorClass"), tree_numbers, line), problems


def _first_tag(path: Path, name: str) -> str:
    try:
        with open_release_file(path) as stream:
            for _, element in etree.iterparse(stream, events=("start",), resolve_entities=False):
                return element.tag
    except etree.XMLSyntaxError as error:
        raise MeshFormatError(name, syntax_reason(error), error.lineno) from error
    except (EOFError, OSError, zlib.error) as error:
        raise MeshFormatError(name, f"unreadable (corrupt or truncated gzip?): {error}") from error
    raise MeshFormatError(name, "empty file: no XML element found")


def iter_descriptors(
    path: str | Path, *, result: MeshParseResult | None = None
) -> Iterator[Descriptor]:
    """Stream descriptors; quarantined records and the latest date seen go into `result`."""
    path = Path(path)
    name = path.name
    root = _first_tag(path, name)
    if root != ROOT_TAG:
        raise MeshFormatError(
            name, f"not a MeSH descriptor file: root element is <{root}>, expected <{ROOT_TAG}>"
        )
    result = result if result is not None else MeshParseResult()
    last_line = None
    try:
        with open_release_file(path) as stream:
            for _, record in etree.iterparse(
                stream, events=("end",), tag=RECORD_TAG, huge_tree=True, resolve_entities=False
            ):
                if record.getparent() is None or record.getparent().tag != ROOT_TAG:
                    continue  # only top-level records
                last_line = record.sourceline
                descriptor, problems = parse_descriptor(record)
                result.quarantined.extend(problems)
                year = _record_latest_year(record)
                if year and (result.latest_date_year is None or year > result.latest_date_year):
                    result.latest_date_year = year
                record.clear(keep_tail=True)
                while record.getprevious() is not None:
                    del record.getparent()[0]
                if descriptor is not None:
                    yield descriptor
    except etree.XMLSyntaxError as error:
        raise MeshFormatError(name, f"malformed XML: {error.msg}", error.lineno) from error
    except (EOFError, OSError, zlib.error) as error:
        raise MeshFormatError(
            name,
            f"unreadable (corrupt or truncated gzip?) after line {last_line}: {error}",
            last_line,
        ) from error


def parse_mesh_file(path: str | Path) -> MeshParseResult:
    result = MeshParseResult()
    result.descriptors = list(iter_descriptors(path, result=result))
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def load_mesh_descriptors(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    expected_year: int | None = None,
    source: str | None = None,
) -> MeshLoadReport:
    """Replace mesh_descriptors with the file's descriptors, atomically; no-op if this file
    (by sha256) is already in mesh_sources. Raises MeshYearMismatchError if expected_year is
    given and the file's year differs (or is unknown)."""
    path = Path(path)
    sha256 = _sha256(path)
    source = source or str(path)
    row = _loaded_source(con, sha256)
    if row is not None:
        _check_year(path.name, row[0], expected_year)
        return MeshLoadReport(source, sha256, row[0], row[1], row[2], 0, True)

    parsed = parse_mesh_file(path)
    mesh_year = year_from_name(path.name) or parsed.latest_date_year
    _check_year(path.name, mesh_year, expected_year)
    unique = _drop_duplicate_uis(parsed)
    frame = pl.DataFrame(  # noqa: F841 - read by DuckDB's replacement scan
        {
            "descriptor_ui": [d.descriptor_ui for d in unique],
            "name": [d.name for d in unique],
            "descriptor_class": [d.descriptor_class for d in unique],
            "tree_numbers": [d.tree_numbers for d in unique],
        },
        schema={
            "descriptor_ui": pl.String, "name": pl.String, "descriptor_class": pl.String,
            "tree_numbers": pl.List(pl.String),
        },
    )  # fmt: skip
    tree_count = sum(len(d.tree_numbers) for d in unique)
    with transaction(con):
        con.execute("DELETE FROM mesh_descriptors")
        con.execute(
            "INSERT INTO mesh_descriptors (descriptor_ui, name, descriptor_class, tree_numbers,"
            " mesh_year, source_sha256) SELECT descriptor_ui, name, descriptor_class, tree_numbers,"
            " ?, ? FROM frame",
            [mesh_year, sha256],
        )
        con.execute(
            "DELETE FROM quarantine WHERE asset = ? AND source = ?", [QUARANTINE_ASSET, source]
        )
        if parsed.quarantined:
            con.executemany(
                "INSERT INTO quarantine (asset, source, position, record_key, reason, raw_excerpt,"
                " quarantined_at) VALUES (?, ?, ?, ?, ?, ?, now())",
                [
                    (QUARANTINE_ASSET, source, f"line {q.line}" if q.line else None,
                     q.record_key, q.reason, q.raw_excerpt)
                    for q in parsed.quarantined
                ],
            )  # fmt: skip
        con.execute("DELETE FROM mesh_vocabulary")
        con.execute(f"INSERT INTO mesh_vocabulary {MESH_VOCABULARY_ROWS_SQL}")
        con.execute(
            "INSERT OR REPLACE INTO mesh_sources (source, sha256, mesh_year, descriptors,"
            " tree_numbers, loaded_at) VALUES (?, ?, ?, ?, ?, now())",
            [source, sha256, mesh_year, len(unique), tree_count],
        )
    return MeshLoadReport(
        source, sha256, mesh_year, len(unique), tree_count, len(parsed.quarantined)
    )


def _drop_duplicate_uis(parsed: MeshParseResult) -> list[Descriptor]:
    """A DescriptorUI twice in one file is an error of the file: keep the first, quarantine the rest."""
    seen: set[str] = set()
    unique = []
    for descriptor in parsed.descriptors:
        if descriptor.descriptor_ui in seen:
            parsed.quarantined.append(
                MeshQuarantine(
                    descriptor.line, descriptor.descriptor_ui,
                    f"duplicate DescriptorUI {descriptor.descriptor_ui}", descriptor.name,
                )
            )  # fmt: skip
            continue
        seen.add(descriptor.descriptor_ui)
        unique.append(descriptor)
    return unique


def _check_year(name: str, mesh_year: int | None, expected_year: int | None) -> None:
    if expected_year is not None and mesh_year != expected_year:
        raise MeshYearMismatchError(
            f"{name}: MeSH year is {mesh_year if mesh_year else 'unknown'}, expected {expected_year}"
        )


def _loaded_source(con: duckdb.DuckDBPyConnection, sha256: str) -> tuple | None:
    """(year, descriptors, tree numbers) when this file is the one the vocabulary holds now.

    A file loaded earlier but since replaced by another is loaded again."""
    return con.execute(
        """SELECT s.mesh_year, s.descriptors, s.tree_numbers FROM mesh_sources s
           WHERE s.sha256 = $sha
             AND $sha = ALL (SELECT DISTINCT source_sha256 FROM mesh_descriptors)
             AND EXISTS (SELECT 1 FROM mesh_descriptors)""",
        {"sha": sha256},
    ).fetchone()


# The whole vocabulary as tree rows (table mesh_vocabulary), set-wise from mesh_descriptors.
MESH_VOCABULARY_ROWS_SQL = """
SELECT left(tree_number, 1) AS category,
       tree_number,
       descriptor_ui,
       name AS descriptor_name,
       len(string_split(tree_number, '.'))::INTEGER AS depth,
       CASE WHEN contains(tree_number, '.')
            THEN left(tree_number, length(tree_number) - strpos(reverse(tree_number), '.'))
       END AS parent_tree_number,
       mesh_year
FROM (SELECT descriptor_ui, name, mesh_year, unnest(tree_numbers) AS tree_number
      FROM mesh_descriptors)
"""

# One category's subtree: a slice of the whole vocabulary.
MESH_TREE_ROWS_SQL = """
SELECT category, tree_number, descriptor_ui, descriptor_name, depth, parent_tree_number, mesh_year
FROM mesh_vocabulary WHERE category = $category
"""


class MeshVocabularyMissingError(RuntimeError):
    """mesh_tree was asked for before the vocabulary (asset mesh_vocabulary) was loaded."""


def mesh_tree_rows_sql() -> str:
    """The SELECT that yields one category's mesh_tree rows (parameter $category)."""
    return MESH_TREE_ROWS_SQL


def vocabulary_source(con: duckdb.DuckDBPyConnection) -> tuple[str, int | None] | None:
    """(sha256, MeSH year) of the file the vocabulary holds, or None when none is loaded."""
    rows = con.execute(
        "SELECT DISTINCT d.source_sha256, s.mesh_year FROM mesh_descriptors d"
        " LEFT JOIN mesh_sources s ON s.sha256 = d.source_sha256"
    ).fetchall()
    return (rows[0][0], rows[0][1]) if len(rows) == 1 else None


def write_mesh_tree_partition(con: duckdb.DuckDBPyConnection, category: str) -> int:
    """Replace the category's rows of mesh_tree from mesh_vocabulary in one transaction."""
    if not re.fullmatch(r"[A-Z]", category or ""):
        raise ValueError(f"not a MeSH category letter: {category!r}")
    if vocabulary_source(con) is None:
        raise MeshVocabularyMissingError(
            "no MeSH vocabulary is loaded: materialize the mesh_vocabulary asset first "
            "(it reads MKAILIN_MESH_SOURCE)"
        )
    with transaction(con):
        con.execute("DELETE FROM mesh_tree WHERE category = $category", {"category": category})
        con.execute(
            "INSERT INTO mesh_tree (category, tree_number, descriptor_ui, descriptor_name, depth,"
            " parent_tree_number, mesh_year) " + MESH_TREE_ROWS_SQL,
            {"category": category},
        )
        count = con.execute(
            "SELECT count(*) FROM mesh_tree WHERE category = ?", [category]
        ).fetchone()[0]
    return int(count)
