"""Benchmark twins: citations whose text is a benchmark item's under another PMID.

PubMed holds the same abstract more than once (duplicate publications, republished trials,
errata carrying the full text). A citation is a twin of a benchmark item when its title or
abstract shares a word n-gram with the item's texts: the rule decontamination applies to
records (curation/decontamination.py: 13 words by default, the same normalised tokens, no n-gram
spanning two texts). The item's own PMID is the benchmark citation itself, never its twin.

A release file holds 30,000 citations, so the comparison is cut to what can match: an n-gram
can only be shared if all its words occur in the benchmark, so n-grams are hashed only where a
run of at least n such words starts (about a fifth of the positions). Words and n-grams are
hashed in the process that compares them (both sides the same process), never stored: by the
compiled scanner (_word_scan.c, one pass over the bytes) when it was built, else by the Polars
reference (`words_of_reference`, about ten times slower); tests hold the two equal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from mkailin_assets.curation.decontamination import Benchmark
from mkailin_assets.curation.text import _nfkc_non_ascii, fold_expr
from mkailin_assets.settings import get_settings

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
    splits them): `doc` is each word's text index, `hash` its hash; `texts` are the texts as
    prepared for splitting (to show an n-gram's words)."""

    doc: np.ndarray
    hash: np.ndarray
    texts: pl.Series

    def words_at(self, start: int, n: int) -> str:
        """The n words from word offset `start`, joined by spaces (re-split the reference way:
        the compiled path splits exactly so)."""
        doc = int(self.doc[start])
        first = int(np.searchsorted(self.doc, doc))
        folded = self.texts.slice(doc, 1).to_frame("t").select(fold_expr(pl.col("t"))).item()
        words = [word for word in folded.split(" ") if word]
        return " ".join(words[start - first : start - first + n])


def word_scanner() -> Any:
    """The compiled word scanner (_word_scan.c), or None when it was not built (no C compiler at
    install) or MKAILIN_WORD_SCANNER=off asks for the Polars reference alone."""
    if get_settings().word_scanner == "off":
        return None
    try:
        from mkailin_assets.curation import _word_scan
    except ImportError:
        return None
    return _word_scan


def words_of(texts: pl.Series, parts: int | None = None) -> Words:
    """Every word of `texts` with its hash: compiled when built, else the Polars reference (the
    two hash differently, so a benchmark index and the citations it is compared with must come
    from the same process; they always do)."""
    scanner = word_scanner()
    return words_of_compiled(texts, scanner) if scanner else words_of_reference(texts, parts)


def words_of_compiled(texts: pl.Series, scanner: Any) -> Words:
    """The scanner splits and hashes raw ASCII texts itself; a text with non-ASCII characters is
    NFKC-normalised and folded here first (the scanner's contract, in _word_scan.c)."""
    texts = _nfkc_non_ascii(texts)
    non_ascii = texts.str.len_bytes() != texts.str.len_chars()
    prepared = texts
    if non_ascii.any():
        indices = non_ascii.arg_true()
        folded = texts.gather(indices).to_frame("t").select(fold_expr(pl.col("t"))).to_series()
        prepared = texts.scatter(indices, folded)
    offsets, data = _arrow_buffers(prepared)
    doc, hashes = scanner.word_hashes(offsets, data, 0)
    return Words(np.frombuffer(doc, dtype=np.int64), np.frombuffer(hashes, dtype=np.uint64), texts)


def _arrow_buffers(texts: pl.Series) -> tuple[np.ndarray, Any]:
    """The int64 offsets (one more than the texts) and the bytes of a string column, zero-copy."""
    array = texts.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    _, offsets, data = array.buffers()
    starts = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    return np.ascontiguousarray(starts), data if data is not None else b""


def words_of_reference(texts: pl.Series, parts: int | None = None) -> Words:
    """Polars: split across `parts` lazy queries (default: Polars' threads) that Polars runs side
    by side: folding and splitting are per-text string work, single-threaded within one query."""
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
        .select("doc", pl.col("word").hash(seed=_SEED).alias("hash"))
        for start, stop in bounds
    ]
    words = (
        pl.concat(pl.collect_all(queries))
        if queries
        else pl.DataFrame(schema={"doc": pl.Int64, "hash": pl.UInt64})
    )
    return Words(words["doc"].to_numpy(), words["hash"].to_numpy(), texts)


def _part_bounds(size: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous ranges of about equal size (at least 2,000 texts each)."""
    parts = max(1, min(parts, size // 2_000))
    edges = [size * k // parts for k in range(parts + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def ngrams_of(
    words: Words, n: int, vocabulary: pl.Series | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and hashes of the n-grams lying within one text (and, given `vocabulary`, only
    over words whose hash is in it): compiled when built, else numpy."""
    scanner = word_scanner()
    if scanner is not None:
        allowed = None if vocabulary is None else vocabulary.cast(pl.UInt64).to_numpy()
        starts, hashes = scanner.ngram_hashes(
            np.ascontiguousarray(words.doc, dtype=np.int64),
            np.ascontiguousarray(words.hash, dtype=np.uint64),
            n,
            None if allowed is None else np.ascontiguousarray(allowed),
        )
        return np.frombuffer(starts, dtype=np.int64), np.frombuffer(hashes, dtype=np.uint64)
    allowed = None
    if vocabulary is not None:
        allowed = pl.Series(words.hash, dtype=pl.UInt64).is_in(vocabulary.implode()).to_numpy()
    starts = ngram_starts(words, n, allowed)
    return starts, ngram_hashes_at(words, starts, n)


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
    """One benchmark's n-grams (hash and item, one row per occurrence) and its words."""

    name: str
    own_pmids: frozenset[int]
    ngrams: pl.DataFrame  # hash (UInt64), item (String)
    vocabulary: pl.Series  # the hash of every word of the benchmark's texts
    digest: str  # of its PMIDs, items and texts: an edited benchmark is compared anew


def index_benchmark(benchmark: Benchmark, ngram: int) -> BenchmarkIndex:
    if len(benchmark.text_items) != len(benchmark.texts):
        raise ValueError(f"benchmark {benchmark.name}: every text needs its item")
    words = words_of(pl.Series(benchmark.texts, dtype=pl.String))
    starts, hashes = ngrams_of(words, ngram)
    # Not made distinct (a pair repeats where an item repeats an n-gram): the matches count
    # distinct n-grams per item, so repeats change nothing, and unique() would cost 30 ms.
    item_of_text = pl.Series(benchmark.text_items, dtype=pl.String)
    ngrams = pl.DataFrame(
        {"hash": pl.Series(hashes, dtype=pl.UInt64), "item": item_of_text.gather(words.doc[starts])}
    )
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
        starts, found_hashes = ngrams_of(words, ngram, index.vocabulary)
        hashes = pl.Series("hash", found_hashes, dtype=pl.UInt64)
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
            found.append(_per_item(matches, words, ngram, index.name))
    if not found:
        return pl.DataFrame(schema=TWIN_SCHEMA)
    return pl.concat(found).cast(TWIN_SCHEMA).sort("pmid", "benchmark", "item")


def _per_item(matches: pl.DataFrame, words: Words, ngram: int, name: str) -> pl.DataFrame:
    grouped = matches.group_by("pmid", "item").agg(
        pl.col("hash").n_unique().alias("matched_ngrams"), pl.col("start").min().alias("start")
    )
    first = [words.words_at(start, ngram) for start in grouped["start"].to_list()]
    return grouped.select(
        "pmid",
        pl.lit(name).alias("benchmark"),
        "item",
        "matched_ngrams",
        pl.Series("first_ngram", first, dtype=pl.String),
    )
