"""Benchmark hygiene: benchmark citations never reach training data.

Training retrieval excludes every PMID of the MKAILIN_DECONTAMINATION files and every benchmark
twin (a citation carrying a benchmark item's text under another PMID, table `benchmark_twins`);
the evaluation path excludes only the question's own PMID. `benchmark_pmid_hits` finds a benchmark PMID in any
PMID-bearing field of a training record: the source and context columns and, inside the record
and provenance JSON, every key whose name holds "pmid" (contexts[].pmid, chosen_context_pmids,
rejected_context_pmids, cited_pmids, ...) and every "PMID 123" written into a text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import duckdb
import polars as pl

from mkailin_assets import settings
from mkailin_assets.curation.decontamination import load_benchmarks

_TEXT_PMID = re.compile(r"\bPMID[:\s]*(\d{1,9})\b", re.IGNORECASE)
HIT_SCHEMA = {"record_id": pl.String, "field": pl.String, "pmid": pl.Int64}


def benchmark_citation_pmids(paths: list[str] | None = None) -> frozenset[int]:
    """Every PMID in the benchmark files (default: MKAILIN_DECONTAMINATION)."""
    sources = settings.get_settings().decontamination if paths is None else paths
    return frozenset().union(*(b.pmids for b in load_benchmarks(sources)))


def twin_pmids(con: duckdb.DuckDBPyConnection) -> frozenset[int]:
    """Every benchmark twin's PMID (found as release files load, stages/twins.py)."""
    rows = con.execute("SELECT DISTINCT pmid FROM benchmark_twins").fetchall()
    return frozenset(int(row[0]) for row in rows)


def training_excluded_pmids(
    con: duckdb.DuckDBPyConnection, paths: list[str] | None = None
) -> frozenset[int]:
    """What training never uses as a source, a context or any named PMID: the benchmark
    citations and their twins."""
    return benchmark_citation_pmids(paths) | twin_pmids(con)


def _as_pmids(value: Any) -> Iterator[int]:
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            yield item
        elif isinstance(item, str) and item.strip().isdigit():
            yield int(item)


def pmids_in(value: Any, path: str = "") -> Iterator[tuple[str, int]]:
    """(field path, pmid) for every PMID a JSON value carries."""
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "pmid" in str(key).lower():
                for pmid in _as_pmids(inner):
                    yield where, pmid
            if isinstance(inner, dict | list | str):
                yield from pmids_in(inner, where)
    elif isinstance(value, list):
        for inner in value:
            yield from pmids_in(inner, f"{path}[]")
    elif isinstance(value, str):
        for match in _TEXT_PMID.finditer(value):
            yield f"{path} (text)", int(match.group(1))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def benchmark_pmid_hits(rows: pl.DataFrame, benchmark_pmids: Iterable[int]) -> pl.DataFrame:
    """record_id, field, pmid for each benchmark PMID found in a training_set row
    (columns record_id, source_pmid, context_pmids, record, provenance)."""
    listed = set(benchmark_pmids)
    hits: list[tuple[str, str, int]] = []
    for row in rows.iter_rows(named=True):
        found = [("source_pmid", row["source_pmid"])]
        found += [("context_pmids", p) for p in row.get("context_pmids") or []]
        found += [(f"record.{f}", p) for f, p in pmids_in(_json(row.get("record")))]
        found += [(f"provenance.{f}", p) for f, p in pmids_in(_json(row.get("provenance")))]
        hits += [(row["record_id"], f, int(p)) for f, p in found if p is not None and p in listed]
    return pl.DataFrame(hits, schema=HIT_SCHEMA, orient="row").unique(maintain_order=True)
