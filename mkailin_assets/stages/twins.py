"""Benchmark twins found as a release file loads: only the file's new and revised citations are
compared with the benchmark items (curation/twins.py), and the `benchmark_twins` rows of those
citations are replaced (a revised citation may stop being a twin; a deleted one is gone).

A benchmark the corpus was never compared with (new in MKAILIN_DECONTAMINATION, edited, or
configured before twins were recorded) is first compared with every citation, one release file
at a time, and recorded in `benchmark_twin_scans`; only then do the changed citations suffice."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import polars as pl

from mkailin_assets.curation.decontamination import Benchmark, load_benchmarks
from mkailin_assets.curation.twins import BenchmarkIndex, find_twins, index_benchmark
from mkailin_assets.db import TEXT_SCHEMA, citation_rows, insert_frame, query_pl, transaction
from mkailin_assets.db.lookups import pmid_literal_chunks


@dataclass
class TwinReport:
    compared: int = 0  # citations compared (the file's new and revised ones)
    found: int = 0  # twin citations among them
    total: int = 0  # twin citations in the corpus after this file
    per_benchmark: dict[str, int] = field(default_factory=dict)  # this file's twins
    corpus_scanned: int = 0  # citations compared by a whole-corpus scan (a new benchmark)
    seconds: float = 0.0

    def metadata(self) -> dict[str, object]:
        return {
            "benchmark_twins_compared": self.compared,
            "benchmark_twins_found": self.found,
            "benchmark_twins_total": self.total,
            "benchmark_twins_corpus_scanned": self.corpus_scanned,
            "seconds_benchmark_twins": round(self.seconds, 2),
        }


def twin_indexes(benchmark_sources: list[str], ngram: int = 13) -> list[BenchmarkIndex]:
    """The benchmarks' n-gram indexes; read before a release file loads, so a missing or
    malformed benchmark file fails the run before any citation is written."""
    return [index_benchmark(b, ngram) for b in load_benchmarks(benchmark_sources)]


def record_twins(
    con: duckdb.DuckDBPyConnection,
    changed_pmids: Iterable[int],
    file_name: str,
    benchmarks: list[str] | list[BenchmarkIndex],
    ngram: int = 13,
) -> TwinReport:
    """Compare the changed citations with every benchmark item (`benchmarks`: the files, or
    their `twin_indexes`); rewrite the changed citations' twin rows."""
    started = time.perf_counter()
    changed = sorted({int(p) for p in changed_pmids})
    report = TwinReport(compared=len(changed))
    ready = [b for b in benchmarks if isinstance(b, BenchmarkIndex)]
    files = [str(b) for b in benchmarks if not isinstance(b, BenchmarkIndex)]
    indexes = ready + (twin_indexes(files, ngram) if files else [])
    unscanned = [index for index in indexes if not _scanned(con, index, ngram)]
    if unscanned:
        report.corpus_scanned = scan_corpus(con, unscanned, ngram)
    known = [index for index in indexes if index not in unscanned]
    if changed and known:
        twins = find_twins(file_citations(con, file_name, changed), known, ngram)
        _replace_rows(con, changed, twins, file_name, ngram, [i.name for i in known])
    report.found, report.per_benchmark = _file_twins(con, file_name, changed)
    report.total = int(
        con.execute("SELECT count(DISTINCT pmid) FROM benchmark_twins").fetchall()[0][0]
    )
    report.seconds = time.perf_counter() - started
    return report


def file_citations(
    con: duckdb.DuckDBPyConnection, file_name: str, changed: list[int]
) -> pl.DataFrame:
    """Title and abstract of the changed citations: those the file upserted carry it as their
    source file (one scan of the file's rows, as its totals are read); any other changed PMID
    (deleted, or revised since) is looked up by PMID."""
    rows = query_pl(
        con, "SELECT pmid, title, abstract FROM citations WHERE source_file = ?", [file_name]
    ).cast(TEXT_SCHEMA)
    wanted = pl.Series(changed, dtype=pl.Int64)
    rows = rows.filter(pl.col("pmid").is_in(wanted.implode()))
    rest = set(changed) - set(rows["pmid"].to_list())
    return pl.concat([rows, citation_rows(con, rest, TEXT_SCHEMA)]) if rest else rows


def _stamped(twins: pl.DataFrame, file_name: str, ngram: int) -> pl.DataFrame:
    return twins.with_columns(
        pl.lit(ngram, dtype=pl.Int32).alias("ngram"),
        pl.lit(file_name).alias("source_file"),
        pl.lit(datetime.now()).alias("found_at"),
    )


def _replace_rows(
    con: duckdb.DuckDBPyConnection,
    changed: list[int],
    twins: pl.DataFrame,
    file_name: str,
    ngram: int,
    names: list[str],
) -> None:
    # The table is small (twins are rare): read its PMIDs, delete only the changed ones in it.
    stored = {int(row[0]) for row in con.execute("SELECT pmid FROM benchmark_twins").fetchall()}
    with transaction(con):
        for listed in pmid_literal_chunks(stored.intersection(changed)):
            con.execute(
                f"DELETE FROM benchmark_twins WHERE pmid IN ({listed})"
                " AND benchmark IN (SELECT unnest($names))",
                {"names": names},
            )
        insert_frame(con, "benchmark_twins", _stamped(twins, file_name, ngram))


def _scanned(con: duckdb.DuckDBPyConnection, index: BenchmarkIndex, ngram: int) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM benchmark_twin_scans WHERE benchmark = ? AND digest = ?"
            " AND ngram = ?",
            [index.name, index.digest, ngram],
        ).fetchall()[0][0]
    )


def scan_corpus(con: duckdb.DuckDBPyConnection, indexes: list[BenchmarkIndex], ngram: int) -> int:
    """Compare every citation with these benchmarks, one source file at a time (memory bounded
    by a file); their earlier rows are replaced. Returns the citations compared."""
    names = [index.name for index in indexes]
    files = [row[0] for row in con.execute("SELECT DISTINCT source_file FROM citations").fetchall()]
    compared = 0
    with transaction(con):
        con.execute(
            "DELETE FROM benchmark_twins WHERE benchmark IN (SELECT unnest($n))", {"n": names}
        )
        for name in sorted(files):
            rows = query_pl(
                con, "SELECT pmid, title, abstract FROM citations WHERE source_file = ?", [name]
            ).cast(TEXT_SCHEMA)
            compared += rows.height
            insert_frame(
                con, "benchmark_twins", _stamped(find_twins(rows, indexes, ngram), name, ngram)
            )
        for index in indexes:
            con.execute(
                "INSERT OR REPLACE INTO benchmark_twin_scans VALUES (?, ?, ?, ?, now())",
                [index.name, index.digest, ngram, compared],
            )
    return compared


def _file_twins(
    con: duckdb.DuckDBPyConnection, file_name: str, changed: list[int]
) -> tuple[int, dict[str, int]]:
    """Twin citations among the file's changed ones, in all and per benchmark."""
    twins = query_pl(
        con,
        "SELECT benchmark, pmid FROM benchmark_twins WHERE source_file = ?",
        [file_name],
    ).filter(pl.col("pmid").is_in(pl.Series(changed, dtype=pl.Int64).implode()))
    per_benchmark = twins.group_by("benchmark").agg(pl.col("pmid").n_unique()).sort("benchmark")
    return twins["pmid"].n_unique(), dict(per_benchmark.iter_rows())


def with_twins(con: duckdb.DuckDBPyConnection, benchmarks: list[Benchmark]) -> list[Benchmark]:
    """The benchmarks with their twins' PMIDs among their own: decontamination then removes a
    record naming a twin exactly as one naming the benchmark citation."""
    rows = con.execute("SELECT DISTINCT benchmark, pmid FROM benchmark_twins").fetchall()
    for benchmark in benchmarks:
        benchmark.pmids.update(int(pmid) for name, pmid in rows if name == benchmark.name)
    return benchmarks


def twins_per_benchmark(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Twin citations per benchmark (for the dataset card)."""
    rows = con.execute(
        "SELECT benchmark, count(DISTINCT pmid) FROM benchmark_twins GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {str(name): int(n) for name, n in rows}
