"""Decontamination against evaluation benchmarks (PubMedQA, BioASQ, ...).

A record is contaminated by a benchmark when its source PMID or one of its context PMIDs is a
benchmark PMID, or when any of its texts shares a word n-gram (13 by default, over normalised
tokens) with a benchmark text. Benchmark n-grams are hashed once into a sorted array; record
n-grams are looked up with one vectorised `isin` per benchmark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from mkailin_assets.curation.text import TokenTable, ngram_hashes, tokenize

REASON_SOURCE = "source_pmid"
REASON_CONTEXT = "context_pmid"

_SCHEMA = {"record_id": pl.String, "benchmark": pl.String, "reason": pl.String, "detail": pl.String}


@dataclass
class Benchmark:
    name: str
    pmids: set[int] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)
    # The item each text belongs to (its PMID, or "line <n>" without one), parallel to `texts`:
    # benchmark twins (curation/twins.py) name the item a citation copies.
    text_items: list[str] = field(default_factory=list)


def overlap_reason(ngram: int) -> str:
    return f"{ngram}-gram overlap"


def _pubmedqa_texts(item: dict) -> list[str]:
    """Question, each context and the long answer, kept apart so no n-gram spans two of them."""
    texts = [item.get("QUESTION") or ""]
    texts.extend(item.get("CONTEXTS") or [])
    texts.append(item.get("LONG_ANSWER") or "")
    return [t for t in texts if t]


def _load_pubmedqa_json(path: Path) -> Benchmark:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: PubMedQA JSON must be an object keyed by PMID")
    benchmark = Benchmark(name=path.stem)
    for pmid, item in data.items():
        if not isinstance(item, dict) or "QUESTION" not in item:
            raise ValueError(f"{path}: item {pmid!r} has no QUESTION (not PubMedQA's layout)")
        benchmark.pmids.add(int(pmid))
        texts = _pubmedqa_texts(item)
        benchmark.texts.extend(texts)
        benchmark.text_items.extend([str(int(pmid))] * len(texts))
    return benchmark


def _load_jsonl(path: Path) -> Benchmark:
    benchmark = Benchmark(name=path.stem)
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(item, dict) or not ({"pmid", "text"} & item.keys()):
                raise ValueError(f'{path}:{number}: expected {{"pmid": ..., "text": ...}}')
            has_pmid = item.get("pmid") not in (None, "")
            if has_pmid:
                benchmark.pmids.add(int(item["pmid"]))
            if item.get("text"):
                benchmark.texts.append(str(item["text"]))
                benchmark.text_items.append(
                    str(int(item["pmid"])) if has_pmid else f"line {number}"
                )
    return benchmark


def load_benchmarks(paths: list[str]) -> list[Benchmark]:
    """Read each benchmark file: PubMedQA's own JSON (a `.json` file keyed by PMID) or JSON lines
    of {pmid, text} (`.jsonl` or any other name).

    The benchmark's name is the file stem. A missing file is an error, not an empty list.
    """
    benchmarks = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise FileNotFoundError(f"decontamination benchmark file not found: {path}")
        # ".json" is PubMedQA's object keyed by PMID; anything else is read as JSON lines.
        is_pubmedqa = path.suffix.lower() == ".json"
        benchmarks.append(_load_pubmedqa_json(path) if is_pubmedqa else _load_jsonl(path))
    return benchmarks


def _pmid_hits(frame: pl.DataFrame, benchmark: Benchmark) -> pl.DataFrame:
    pmids = pl.Series(sorted(benchmark.pmids), dtype=pl.Int64)
    source = frame.filter(pl.col("source_pmid").cast(pl.Int64).is_in(pmids.implode())).select(
        "record_id",
        pl.lit(REASON_SOURCE).alias("reason"),
        pl.col("source_pmid").cast(pl.String).alias("detail"),
    )
    context = (
        frame.select("record_id", pl.col("context_pmids").cast(pl.List(pl.Int64)))
        .explode("context_pmids")
        .filter(pl.col("context_pmids").is_in(pmids.implode()))
        .group_by("record_id", maintain_order=True)
        .agg(pl.col("context_pmids").cast(pl.String).str.join(","))
        .select(
            "record_id",
            pl.lit(REASON_CONTEXT).alias("reason"),
            pl.col("context_pmids").alias("detail"),
        )
    )
    return pl.concat([source, context])


def _record_segments(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (record_id, text): `texts` may be a string or a list of strings."""
    texts = frame.select("record_id", "texts")
    if isinstance(texts.schema["texts"], pl.List):
        texts = texts.explode("texts")
    return texts.filter(pl.col("texts").is_not_null())


def _benchmark_ngrams(benchmark: Benchmark, ngram: int) -> np.ndarray:
    tokens = tokenize(pl.Series(benchmark.texts, dtype=pl.String))
    return np.unique(ngram_hashes(tokens, ngram)[2])


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """values in sorted_set, by binary search (no sort of the large side, unlike np.isin)."""
    if sorted_set.size == 0:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[at] == values


def find_contamination(
    frame: pl.DataFrame, benchmarks: list[Benchmark], ngram: int = 13
) -> pl.DataFrame:
    """Contaminated records: record_id, benchmark, reason, detail.

    Input columns: record_id, source_pmid, context_pmids (list of PMIDs), texts (the record's
    question/answer/context text, a string or a list of strings). One row per record, benchmark
    and reason: reason 'source_pmid' | 'context_pmid' (detail = the PMIDs) or '13-gram overlap'
    (detail = the first matching n-gram of the record, normalised).
    """
    segments = _record_segments(frame)
    tokens = tokenize(segments["texts"])
    seg_doc, seg_start, seg_hash = ngram_hashes(tokens, ngram)
    found = []
    for benchmark in benchmarks:
        hits = _pmid_hits(frame, benchmark)
        matched = _member(seg_hash, _benchmark_ngrams(benchmark, ngram))
        overlap = _overlap_hits(segments, tokens, seg_doc[matched], seg_start[matched], ngram)
        found.append(
            pl.concat(
                [
                    hits,
                    overlap.select(
                        "record_id", pl.lit(overlap_reason(ngram)).alias("reason"), "detail"
                    ),
                ]
            ).select("record_id", pl.lit(benchmark.name).alias("benchmark"), "reason", "detail")
        )
    if not found:
        return pl.DataFrame(schema=_SCHEMA)
    return pl.concat(found).cast(_SCHEMA).sort("record_id", "benchmark", "reason")


def _overlap_hits(
    segments: pl.DataFrame, tokens: TokenTable, docs: np.ndarray, starts: np.ndarray, ngram: int
) -> pl.DataFrame:
    """First matching n-gram per record, rebuilt from the token table."""
    if docs.size == 0:
        return pl.DataFrame(schema={"record_id": pl.String, "detail": pl.String})
    first = pl.DataFrame({"doc": docs, "start": starts}).group_by("doc").agg(pl.col("start").min())
    record_ids = segments["record_id"].cast(pl.String).gather(first["doc"])
    first = first.with_columns(record_ids.alias("record_id"))
    first = first.sort("start").unique("record_id", keep="first", maintain_order=True)
    details = [
        " ".join(tokens.token.slice(start, ngram).to_list()) for start in first["start"].to_list()
    ]
    return pl.DataFrame({"record_id": first["record_id"], "detail": details})


def removed_per_benchmark(contamination: pl.DataFrame) -> dict[str, int]:
    """How many distinct records each benchmark removed (for the report and the dataset card)."""
    counts = contamination.group_by("benchmark").agg(pl.col("record_id").n_unique().alias("n"))
    return {row["benchmark"]: row["n"] for row in counts.sort("benchmark").iter_rows(named=True)}


def contamination_filters(contamination: pl.DataFrame) -> pl.DataFrame:
    """training_filtered rows from `find_contamination`: one per record and benchmark.

    Returns record_id, filter ('decontamination:<benchmark>'), reason ('<reason>: <detail>',
    all reasons of that benchmark joined by '; '), twin_id (null).
    """
    return (
        contamination.group_by("record_id", "benchmark", maintain_order=True)
        .agg(pl.format("{}: {}", "reason", "detail").str.join("; ").alias("reason"))
        .select(
            "record_id",
            pl.format("decontamination:{}", "benchmark").alias("filter"),
            "reason",
            pl.lit(None, dtype=pl.String).alias("twin_id"),
        )
        .sort("record_id", "filter")
    )
