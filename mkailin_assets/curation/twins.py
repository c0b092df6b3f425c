"""Benchmark twins: citations whose text is a benchmark item's under another PMID.

PubMed holds the same abstract more than once (duplicate publications, republished trials,
errata carrying the full text). A citation is a twin of a benchmark item when its title or
abstract shares a word n-gram with the item's texts: the rule decontamination applies to
records (curation/decontamination.py: 13 words by default, the same normalised tokens, no n-gram
spanning two texts). The item's own PMID is the benchmark citation itself, never its twin.

A release file holds 30,000 citations, so the comparison is cut to what can match: an n-gram
can only be shared if all its words occur in the benchmark, so n-grams are hashed only where a
run of at least n such words starts (about a fifth of the positions). Words and n-grams are
hashed with Polars' hash inside one call (both sides the same process), never stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from mkailin_assets.curation.decontamination import Benchmark
from mkailin_assets.curation.text import _nfkc_non_ascii, fold_expr

TWIN_SCHEMA = {
    "pmid": pl.Int64,
    "benchmark": pl.String,
    "item": pl.String,  # the benchmark item's PMID (or "line <n>" in a JSONL without one)
    "matched_ngrams": pl.Int32,  # distinct n-grams of the citation found in that item
    "first_ngram": pl.String,  # the first of them, normalised (to show why)
}
_SEED = 0x6D6B61696C696E  # any fixed seed: both sides are hashed in the same process
_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Words:
    """The normalised words of many texts, flattened in text order (as curation/text.tokenize
    splits them): `doc` is each word's text index."""

    doc: np.ndarray
    word: pl.Series
    hash: np.ndarray


def words_of(texts: pl.Series, parts: int | None = None) -> Words:
    """Split across `parts` lazy queries (default: Polars' threads) that Polars runs side by
    side: folding and splitting are per-text string work, single-threaded within one query."""
    texts = _nfkc_non_ascii(texts)
    bounds = _part_bounds(len(texts), parts or pl.thread_pool_size())
    queries = [
        pl.LazyFrame({"text": texts.slice(start, stop - start)})
        .with_row_index("doc", offset=start)
        .select(
            pl.col("doc").cast(pl.Int64), fold_expr(pl.col("text")).str.split(" ").alias("word")
        )
        .explode("word")
        .filter(pl.col("word") != "")  # runs of spaces leave empty strings (and empty texts)
        .with_columns(pl.col("word").hash(seed=_SEED).alias("hash"))
        for start, stop in bounds
    ]
    words = (
        pl.concat(pl.collect_all(queries))
        if queries
        else pl.DataFrame(schema={"doc": pl.Int64, "word": pl.String, "hash": pl.UInt64})
    )
    return Words(words["doc"].to_numpy(), words["word"], words["hash"].to_numpy())


def _part_bounds(size: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous ranges of about equal size (at least 2,000 texts each)."""
    parts = max(1, min(parts, size // 2_000))
    edges = [size * k // parts for k in range(parts + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def ngram_starts(words: Words, n: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Offsets where an n-gram lies within one text (and, given `allowed`, only over allowed
    words)."""
    count = words.doc.size - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    same_doc = words.doc[:count] == words.doc[n - 1 : n - 1 + count]
    if allowed is None:
        return np.flatnonzero(same_doc)
    barred = np.concatenate([[0], np.cumsum(~allowed)])
    return np.flatnonzero(same_doc & (barred[n : n + count] == barred[:count]))


def ngram_hashes_at(words: Words, starts: np.ndarray, n: int) -> np.ndarray:
    combined = words.hash[starts].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            combined = combined * _MIX + words.hash[starts + k]
    return combined


@dataclass(frozen=True, eq=False)  # compared by identity: it holds frames
class BenchmarkIndex:
    """One benchmark's n-grams (hash and item, one row per distinct pair) and its words."""

    name: str
    own_pmids: frozenset[int]
    ngrams: pl.DataFrame  # hash (UInt64), item (String)
    vocabulary: pl.Series  # the hash of every word of the benchmark's texts
    digest: str  # of its PMIDs, items and texts: an edited benchmark is compared anew


def index_benchmark(benchmark: Benchmark, ngram: int) -> BenchmarkIndex:
    if len(benchmark.text_items) != len(benchmark.texts):
        raise ValueError(f"benchmark {benchmark.name}: every text needs its item")
    words = words_of(pl.Series(benchmark.texts, dtype=pl.String))
    starts = ngram_starts(words, ngram)
    item_of_text = pl.Series(benchmark.text_items, dtype=pl.String)
    ngrams = pl.DataFrame(
        {
            "hash": pl.Series(ngram_hashes_at(words, starts, ngram), dtype=pl.UInt64),
            "item": item_of_text.gather(words.doc[starts]),
        }
    ).unique()
    return BenchmarkIndex(
        benchmark.name,
        frozenset(benchmark.pmids),
        ngrams,
        pl.Series(words.hash, dtype=pl.UInt64).unique(),
        benchmark_digest(benchmark),
    )


def benchmark_digest(benchmark: Benchmark) -> str:
    digest = hashlib.sha256(",".join(map(str, sorted(benchmark.pmids))).encode())
    for item, text in zip(benchmark.text_items, benchmark.texts, strict=True):
        digest.update(f"\x1e{item}\x1f{text}".encode())
    return digest.hexdigest()


def _segments(citations: pl.DataFrame) -> pl.DataFrame:
    """Title and abstract as separate texts (no n-gram spans the two), one row each."""
    return (
        citations.select(pl.col("pmid").cast(pl.Int64), "title", "abstract")
        .unpivot(index="pmid", on=["title", "abstract"], value_name="text")
        .filter(pl.col("text").is_not_null() & (pl.col("text") != ""))
        .select("pmid", "text")
    )


def find_twins(
    citations: pl.DataFrame, indexes: list[BenchmarkIndex], ngram: int = 13
) -> pl.DataFrame:
    """Twins among `citations` (pmid, title, abstract): one row per citation, benchmark and item
    it shares an n-gram with (TWIN_SCHEMA)."""
    indexes = [index for index in indexes if index.ngrams.height]
    segments = _segments(citations)
    if segments.is_empty() or not indexes:
        return pl.DataFrame(schema=TWIN_SCHEMA)
    words = words_of(segments["text"])
    pmids = segments["pmid"].to_numpy()
    found = []
    for index in indexes:
        known = pl.Series(words.hash).is_in(index.vocabulary.implode()).to_numpy()
        starts = ngram_starts(words, ngram, known)
        hashes = pl.Series("hash", ngram_hashes_at(words, starts, ngram), dtype=pl.UInt64)
        # A hash-set probe first (cheap), the items (a join) only for the few hits.
        hit = hashes.is_in(index.ngrams["hash"].implode()).to_numpy()
        if not hit.any():
            continue
        own = pl.Series(sorted(index.own_pmids), dtype=pl.Int64).implode()
        matches = (
            pl.DataFrame(
                {
                    "pmid": pmids[words.doc[starts[hit]]],
                    "hash": hashes.filter(hit),
                    "start": starts[hit],
                }
            )
            .filter(~pl.col("pmid").is_in(own))
            .join(index.ngrams, on="hash")  # an n-gram several items share matches each
        )
        if matches.height:
            found.append(_per_item(matches, words.word, ngram, index.name))
    if not found:
        return pl.DataFrame(schema=TWIN_SCHEMA)
    return pl.concat(found).cast(TWIN_SCHEMA).sort("pmid", "benchmark", "item")


def _per_item(matches: pl.DataFrame, word: pl.Series, ngram: int, name: str) -> pl.DataFrame:
    grouped = matches.group_by("pmid", "item").agg(
        pl.col("hash").n_unique().alias("matched_ngrams"), pl.col("start").min().alias("start")
    )
    first = [" ".join(word.slice(start, ngram).to_list()) for start in grouped["start"].to_list()]
    return grouped.select(
        "pmid",
        pl.lit(name).alias("benchmark"),
        "item",
        "matched_ngrams",
        pl.Series("first_ngram", first, dtype=pl.String),
    )
