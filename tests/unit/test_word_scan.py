"""The compiled word scanner (curation/_word_scan.c) against the Polars reference: the same words
(hashed differently, so compared as a one-to-one mapping), the same n-grams, the same twins."""

from __future__ import annotations

import os
import random

import numpy as np
import polars as pl
import pytest

from mkailin_assets.curation import twins
from mkailin_assets.curation.decontamination import Benchmark
from mkailin_assets.db import apply_schema, open_connection, query_pl

TRICKY = [
    "",
    None,
    "   ",
    "\t\n",
    "Interleukin-6 (IL-6) was measured on admission; p<0.05, n=80.",
    "snake_case words and ALL CAPS and MiXeD and 3.5mg/kg",
    "Ångström units, ﬁbrosis (a ligature), naïve café, İstanbul, ΣΟΦΙΑ, résumé",
    "combining: e\u0301 and a\u0308, dashes \u2013 and \u2014, \u00b1 2.3 \u2265 1, \u00b5g, x\u00b2",
    "emoji \U0001f600 and CJK \u4e2d\u6587 and Arabic \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "punctuation!!!only???...,,,;;;",
    "trailing word",
    "a",
    "\u00a0non-breaking\u00a0spaces\u2009thin\u2003em",
]


@pytest.fixture
def scanner():
    module = twins.word_scanner()
    if module is None:
        if os.environ.get("MKAILIN_ALLOW_NO_SCANNER") == "1":
            pytest.skip("MKAILIN_ALLOW_NO_SCANNER=1: twins use the Polars reference")
        pytest.fail("the compiled word scanner is not built (pip install -e . builds it)")
    return module


def _assert_same_words(texts: pl.Series, scanner) -> int:
    fast, reference = twins.words_of_compiled(texts, scanner), twins.words_of_reference(texts)
    assert fast.doc.tolist() == reference.doc.tolist()
    pairs = pl.DataFrame({"fast": fast.hash, "reference": reference.hash}).unique()
    # One-to-one: every word the reference tells apart, the scanner tells apart, and back.
    assert pairs.height == pairs["fast"].n_unique() == pairs["reference"].n_unique()
    return len(fast.doc)


def test_tricky_texts_split_into_the_reference_words(scanner):
    assert _assert_same_words(pl.Series(TRICKY, dtype=pl.String), scanner) > 40


def test_random_texts_split_into_the_reference_words(scanner):
    rng = random.Random(11)
    pieces = [p for p in TRICKY if p] + ["the", "THE", "The.", "x_1", "9", "-", "é", "e\u0301"]
    texts = pl.Series([" ".join(rng.choices(pieces, k=rng.randrange(0, 12))) for _ in range(3_000)])
    assert _assert_same_words(texts, scanner) > 20_000


def test_a_word_hash_is_its_lanes_mixed_and_finished_by_splitmix(scanner):
    """The contract written in _word_scan.c, pinned: a change of hash is a deliberate one."""

    def expected(word: bytes) -> int:
        mask, value = (1 << 64) - 1, 0xCBF29CE484222325
        for at in range(0, len(word), 8):
            lane = int.from_bytes(word[at : at + 8], "little")
            value = ((value ^ lane) * 0x9E3779B97F4A7C15) & mask
        value ^= len(word)
        value ^= value >> 30
        value = (value * 0xBF58476D1CE4E5B9) & mask
        value ^= value >> 27
        value = (value * 0x94D049BB133111EB) & mask
        return value ^ (value >> 31)

    words = twins.words_of_compiled(pl.Series(["Alpha beta_2, ÉTÉ interleukin abcdefgh"]), scanner)
    expected_words = ("alpha", "beta_2", "été", "interleukin", "abcdefgh")
    assert words.hash.tolist() == [expected(w.encode()) for w in expected_words]


def test_ngrams_equal_numpy_with_and_without_a_vocabulary(scanner, monkeypatch):
    rng = random.Random(5)
    lexicon = [f"w{k}" for k in range(40)]
    texts = pl.Series([" ".join(rng.choices(lexicon, k=rng.randrange(0, 60))) for _ in range(800)])
    words = twins.words_of_reference(texts)
    vocabulary = pl.Series(words.hash[: len(words.hash) // 3], dtype=pl.UInt64).unique()
    for n in (1, 3, 13):
        for allowed in (None, vocabulary):
            fast = twins.ngrams_of(words, n, allowed)
            monkeypatch.setenv("MKAILIN_WORD_SCANNER", "off")
            slow = twins.ngrams_of(words, n, allowed)
            monkeypatch.delenv("MKAILIN_WORD_SCANNER")
            assert fast[0].tolist() == slow[0].tolist() and len(fast[0]) > 0
            assert fast[1].tolist() == slow[1].tolist()


def test_bad_buffers_are_refused(scanner):
    with pytest.raises(ValueError, match="outside"):
        scanner.word_hashes(np.array([0, 99], dtype=np.int64), b"short", 0)
    with pytest.raises(ValueError, match="whole number"):
        scanner.word_hashes(b"1234567", b"", 0)
    with pytest.raises(ValueError, match="differ"):
        scanner.ngram_hashes(np.zeros(2, np.int64), np.zeros(3, np.uint64), 2, None)


def _twins_both_ways(citations: pl.DataFrame, benchmark: Benchmark, monkeypatch) -> list:
    fast = twins.find_twins(citations, [twins.index_benchmark(benchmark, 13)], 13)
    monkeypatch.setenv("MKAILIN_WORD_SCANNER", "off")
    slow = twins.find_twins(citations, [twins.index_benchmark(benchmark, 13)], 13)
    monkeypatch.delenv("MKAILIN_WORD_SCANNER")
    assert fast.equals(slow)
    return fast.rows()


def test_real_file_same_words_and_same_twins(scanner, baseline_file, tmp_path, monkeypatch):
    """Every title and abstract of the 2020 baseline file; a benchmark made of 150 of them
    (under other PMIDs, some cut and re-punctuated) finds the same twins both ways."""
    from mkailin_assets.ingest.pubmed_loader import load_pubmed_file

    con = open_connection(tmp_path / "real.duckdb")
    apply_schema(con)
    load_pubmed_file(con, baseline_file)
    citations = query_pl(con, "SELECT pmid, title, abstract FROM citations ORDER BY pmid")
    con.close()
    texts = pl.concat([citations["title"], citations["abstract"]])
    assert _assert_same_words(texts, scanner) > 2_000_000

    rng = random.Random(2)
    chosen = citations.filter(pl.col("abstract").str.len_chars() > 400).sample(150, seed=2)
    benchmark = Benchmark("planted")
    for number, (pmid, _title, abstract) in enumerate(chosen.rows()):
        words = abstract.split()
        cut = words[rng.randrange(0, len(words) // 2) :]
        text = " ".join(cut).upper() if number % 3 == 0 else " ; ".join(cut)
        benchmark.pmids.add(10_000_000_000 + number)
        benchmark.texts.append(text)
        benchmark.text_items.append(f"{pmid}-copy")
    found = _twins_both_ways(citations, benchmark, monkeypatch)
    assert {(pmid, f"{pmid}-copy") for pmid in chosen["pmid"]} <= {(r[0], r[2]) for r in found}
