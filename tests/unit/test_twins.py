"""Benchmark twins: a citation carrying a benchmark item's text under another PMID is found with
decontamination's n-gram rule, as release files load (only changed citations compared), and is
then excluded from training like a benchmark PMID."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from mkailin_assets.curation.decontamination import find_contamination, load_benchmarks
from mkailin_assets.curation.twins import find_twins, index_benchmark, words_of_reference
from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.evaluation.hygiene import (
    benchmark_pmid_hits,
    training_excluded_pmids,
    twin_pmids,
)
from mkailin_assets.stages.twins import record_twins, with_twins
from tests.unit.test_retrieval import upsert_citation

QUESTION = "Does interleukin-6 predict mortality in septic shock?"
CONTEXT = (
    "Interleukin-6 (IL-6) was measured on admission in 80 consecutive patients with septic "
    "shock treated in two intensive care units; thirty-day mortality was recorded."
)
PLAIN = CONTEXT.split()[3:]  # "was measured on admission ...": one token per word
FRIDGES = "Vaccines in the community were kept in domestic fridges that froze them for weeks."
OTHER = "Inhaled corticosteroids were given to 120 asthmatic children for a year, with placebo."


@pytest.fixture
def bench_file(tmp_path):
    items = {
        "101": {"QUESTION": QUESTION, "CONTEXTS": [CONTEXT], "LONG_ANSWER": "Yes."},
        "102": {"QUESTION": "Do steroids help?", "CONTEXTS": [OTHER], "LONG_ANSWER": "No."},
    }
    path = tmp_path / "pqa.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def _citations(rows: list[tuple[int, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["pmid", "title", "abstract"], orient="row")


def test_a_copy_under_another_pmid_is_a_twin_of_its_item(bench_file):
    (benchmark,) = load_benchmarks([str(bench_file)])
    index = index_benchmark(benchmark, 13)
    citations = _citations(
        [
            (101, "The item itself", CONTEXT),  # the benchmark citation: not its own twin
            (900, "Republished trial", "IL 6 " + CONTEXT.upper()),  # case and punctuation
            (901, "Unrelated", "Vaccines stored in community fridges were often too cold."),
            # 12 words of the item only: below the 13-word rule.
            (902, None, " ".join(PLAIN[:12]) + " and nothing else follows here."),
            # The window would span the title and the abstract: never one text.
            (903, " ".join(PLAIN[:7]), " ".join(PLAIN[7:14])),
        ]
    )
    twins = find_twins(citations, [index], 13)
    assert twins.select("pmid", "benchmark", "item").rows() == [(900, "pqa", "101")]
    assert twins["matched_ngrams"][0] > 5
    assert twins["first_ngram"][0].startswith("interleukin 6 il 6 was measured")


def test_twins_follow_decontamination_rule_exactly(bench_file):
    """Random texts mixing the item's words: a twin iff decontamination sees a 13-gram overlap."""
    (benchmark,) = load_benchmarks([str(bench_file)])
    index = index_benchmark(benchmark, 13)
    words = CONTEXT.replace(";", "").split()
    rng = random.Random(7)
    rows = []
    for pmid in range(1000, 1200):
        start = rng.randrange(len(words))
        length = rng.randrange(8, 20)
        filler = ["word"] * rng.randrange(0, 3)
        rows.append((pmid, None, " ".join(filler + words[start : start + length] + filler)))
    citations = _citations(rows)
    twins = set(find_twins(citations, [index], 13)["pmid"].to_list())
    frame = citations.select(
        pl.col("pmid").cast(pl.String).alias("record_id"),
        pl.lit(0).alias("source_pmid"),
        pl.lit([], dtype=pl.List(pl.Int64)).alias("context_pmids"),
        pl.col("abstract").alias("texts"),
    )
    overlap = find_contamination(frame, [benchmark], ngram=13)
    expected = {int(r) for r in overlap.filter(pl.col("reason") == "13-gram overlap")["record_id"]}
    assert twins == expected and 0 < len(twins) < len(rows)


def test_an_ngram_several_items_share_makes_a_twin_of_each(tmp_path):
    """Two items quoting the same sentence: a copy of it is a twin of both, not of the first."""
    items = {
        "201": {"QUESTION": "A?", "CONTEXTS": [CONTEXT], "LONG_ANSWER": "Yes."},
        "202": {"QUESTION": "B?", "CONTEXTS": [OTHER + " " + CONTEXT], "LONG_ANSWER": "No."},
    }
    path = tmp_path / "shared.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    (benchmark,) = load_benchmarks([str(path)])
    twins = find_twins(_citations([(950, None, CONTEXT)]), [index_benchmark(benchmark, 13)], 13)
    assert twins.select("pmid", "item").rows() == [(950, "201"), (950, "202")]


def test_words_split_across_parts_equal_one_part():
    """The parallel split (by text ranges) changes nothing: same words, texts and hashes."""
    rng = random.Random(3)
    vocabulary = CONTEXT.split() + ["IL-6", "Ångström", "ﬁbrosis", "  ", "\t", ""]
    texts = pl.Series(
        [" ".join(rng.choices(vocabulary, k=rng.randrange(0, 30))) for _ in range(9_001)]
    )
    one, many = words_of_reference(texts, 1), words_of_reference(texts, 4)
    assert one.doc.tolist() == many.doc.tolist() and one.texts.equals(many.texts)
    assert one.hash.tolist() == many.hash.tolist() and len(one.doc) > 100_000


@pytest.fixture
def con(tmp_db):
    connection = open_connection(tmp_db)
    apply_schema(connection)
    connection.complete()
    yield connection
    connection.close()


def test_twins_are_recorded_incrementally_and_excluded(con, bench_file):
    upsert_citation(con, 900, "Republished trial", CONTEXT)
    upsert_citation(con, 901, "Unrelated", "Vaccines stored in community fridges.")
    report = record_twins(con, [900, 901], "test.xml", [str(bench_file)])
    assert (report.compared, report.found, report.total) == (2, 1, 1)
    assert report.per_benchmark == {"pqa": 1}
    row = con.execute("SELECT pmid, benchmark, item, ngram, source_file FROM benchmark_twins")
    assert row.fetchall() == [(900, "pqa", "101", 13, "test.xml")]
    # Another file changes only 901: 900 is not compared again and stays a twin.
    upsert_citation(con, 901, "Revised", OTHER)
    report = record_twins(con, [901], "update.xml", [str(bench_file)])
    assert (report.compared, report.found, report.total) == (1, 1, 2)
    assert twin_pmids(con) == {900, 901}
    # A revision that removes the copied text removes the twin.
    upsert_citation(con, 900, "Republished trial", "An entirely rewritten abstract.")
    record_twins(con, [900], "update2.xml", [str(bench_file)])
    assert twin_pmids(con) == {901}
    # Excluded from training like the benchmark's own PMIDs, and named by decontamination.
    assert training_excluded_pmids(con, [str(bench_file)]) == {101, 102, 901}
    (benchmark,) = with_twins(con, load_benchmarks([str(bench_file)]))
    assert benchmark.pmids == {101, 102, 901}
    record = pl.DataFrame(
        {
            "record_id": ["r"],
            "source_pmid": [5],
            "context_pmids": [[6]],
            "record": [json.dumps({"chosen_context_pmids": [5, 901]})],
            "provenance": [json.dumps({})],
        }
    )
    hits = benchmark_pmid_hits(record, training_excluded_pmids(con, [str(bench_file)]))
    assert hits.rows() == [("r", "record.chosen_context_pmids", 901)]


def test_a_file_already_loaded_compares_nothing(con, bench_file):
    report = record_twins(con, [], "again.xml", [str(bench_file)])
    assert (report.compared, report.found, report.total) == (0, 0, 0)


def test_a_new_or_edited_benchmark_is_compared_with_the_whole_corpus_once(con, bench_file):
    upsert_citation(con, 900, "Republished trial", CONTEXT)  # loaded before any benchmark
    upsert_citation(con, 901, "Other", "Unrelated text about vaccines in fridges.")
    first = record_twins(con, [], "later.xml", [str(bench_file)])
    assert (first.corpus_scanned, first.total) == (2, 1)
    assert con.execute("SELECT source_file FROM benchmark_twins").fetchall() == [("test.xml",)]
    again = record_twins(con, [], "later2.xml", [str(bench_file)])
    assert again.corpus_scanned == 0  # recorded in benchmark_twin_scans: not scanned again
    # The benchmark edited (901's text added to an item): the corpus is compared anew.
    items = json.loads(bench_file.read_text())
    items["102"]["CONTEXTS"].append(FRIDGES)
    bench_file.write_text(json.dumps(items))
    upsert_citation(con, 901, "Other", FRIDGES)
    edited = record_twins(con, [], "later3.xml", [str(bench_file)])
    assert edited.corpus_scanned == 2 and twin_pmids(con) == {900, 901}
