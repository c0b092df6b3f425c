"""Driver for scripts/fuzz_pubmed_scan.sh: the instrumented scanner against lxml.

    python scripts/fuzz_pubmed_scan.py SCANNER_SO SEED MUTATIONS

Records of the bundled sample and the test fixtures (one to three at a time) are damaged at
random (inserted markup, entities, invalid bytes, deletions, copies, truncation); each damaged
piece must give the same rows, quarantine and deletions through the scanner as through lxml, or
fail with the same error line. Then every real file in ../shared/data (when present) is scanned.
"""

from __future__ import annotations

import importlib.util
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_PUBMED = REPO.parent / "shared" / "data" / "pubmed"


def load_instrumented(path: str) -> None:
    spec = importlib.util.spec_from_file_location("mkailin_assets.ingest._pubmed_scan", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["mkailin_assets.ingest._pubmed_scan"] = module


def record_pieces(rng: random.Random, chunks: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    pieces = []
    for chunk, line in chunks:
        parts = re.split(rb"(?<=</PubmedArticle>)", chunk)
        for start in range(0, len(parts), 2):
            piece = b"".join(parts[start : start + rng.randint(1, 3)])
            if piece.strip():
                pieces.append((piece, line))
    return pieces


def main(scanner: str, seed: int, mutations: int) -> None:
    sys.path.insert(0, str(REPO))  # the scanner imports pubmed_columns when it loads
    load_instrumented(scanner)
    from mkailin_assets.ingest import pubmed_chunks
    from tests.unit.test_pubmed_scan import _sample_chunks, assert_same, damage

    assert pubmed_chunks.fast_scanner() is sys.modules["mkailin_assets.ingest._pubmed_scan"]
    rng = random.Random(seed)
    pieces = record_pieces(rng, _sample_chunks())
    outcomes = {"ok": 0, "error": 0}
    started = time.perf_counter()
    for _ in range(mutations):
        piece, line = rng.choice(pieces)
        outcomes[assert_same(damage(rng, bytearray(piece)), line)[0]] += 1
    print(f"{mutations} damaged pieces agree with lxml: {outcomes['ok']} parsed, "
          f"{outcomes['error']} failed alike ({time.perf_counter() - started:.1f} s)")  # fmt: skip
    real = sorted(SHARED_PUBMED.rglob("*.xml*")) if SHARED_PUBMED.exists() else []
    for path in real:
        for index, (chunk, first_line) in enumerate(
            pubmed_chunks.iter_record_chunks(path, path.name, 4 << 20)
        ):
            pubmed_chunks.parse_chunk(chunk, first_line, index, path.name, fast=True)
    print(f"{len(real)} real files from ../shared/data scanned without a sanitizer report")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
