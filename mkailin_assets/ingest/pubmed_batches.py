"""Parsed batches of one PubMed release file, in file order: streamed in the calling thread, or
cut into chunks and parsed by worker processes (`parse_workers` running `pubmed_chunks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkailin_assets.ingest.parse_workers import ParserProcessPool
from mkailin_assets.ingest.pubmed_chunks import (
    DEFAULT_CHUNK_BYTES,
    ParsedBatch,
    fast_scanner,
    iter_record_chunks,
)
from mkailin_assets.ingest.pubmed_records import check_root, iter_pubmed_file


def iter_pubmed_batches(
    path: str | Path,
    *,
    file_name: str | None = None,
    batch_size: int = 5_000,
    workers: int = 0,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[ParsedBatch]:
    """Yield ParsedBatches in file order.

    workers=0 streams with iterparse in the calling thread. workers>0 cuts the decompressed
    stream into chunks of whole top-level records and parses them in that many worker
    processes (the records are independent; see parse_workers); at most 2 chunks per worker
    are in flight, so memory stays bounded by the chunk size. Both raise PubMedFormatError like
    iter_pubmed_file."""
    path = Path(path)
    name = file_name or path.name
    if workers <= 0:
        batch = ParsedBatch()
        for seq, item in enumerate(iter_pubmed_file(path, file_name=name)):
            batch.add(seq, item)
            if batch.articles_read >= batch_size:
                yield batch
                batch = ParsedBatch()
        if batch.articles_read or batch.deleted_pmids or batch.quarantined:
            yield batch
        return
    yield from _iter_parallel_batches(path, name, workers, chunk_bytes)


def _iter_parallel_batches(
    path: Path, name: str, workers: int, chunk_bytes: int
) -> Iterator[ParsedBatch]:
    check_root(path, name)
    # Processes, not threads: extraction holds the GIL (the C scanner builds Python objects, the
    # lxml fallback is Python), so threads would not overlap. The caller keeps cutting chunks
    # while the workers parse.
    pending: list[Any] = []
    with ParserProcessPool(workers, name) as pool:
        try:
            for index, (chunk, first_line) in enumerate(
                iter_record_chunks(path, name, chunk_bytes)
            ):
                pending.append(pool.submit(chunk, first_line, index))
                while len(pending) > 2 * workers:
                    yield pending.pop(0).result()
            while pending:
                yield pending.pop(0).result()
        finally:
            for future in pending:
                future.cancel()


def parser_description(workers: int) -> str:
    """Which parser a load with this many worker processes uses (reported in the metadata)."""
    if workers <= 0:
        return "lxml iterparse"
    scanner = "compiled scanner with lxml fallback" if fast_scanner() else "lxml"
    return f"{scanner}, {workers} worker process{'es' if workers > 1 else ''}"
