"""Decontamination: benchmark files in both layouts, PMID and 13-gram hits, the shipped list."""

from __future__ import annotations

import json

import polars as pl
import pytest

from mkailin_assets.curation.decontamination import (
    contamination_filters,
    find_contamination,
    load_benchmarks,
    removed_per_benchmark,
)
from mkailin_assets.settings import DEFAULT_DECONTAMINATION

BENCH_CONTEXT = (
    "Programmed cell death is the regulated death of cells within an organism and the lace plant "
    "produces perforations in its leaves through this process during development"
)


@pytest.fixture
def pubmedqa_json(tmp_path):
    path = tmp_path / "mini_pqal.json"
    item = {
        "QUESTION": "Do mitochondria play a role in remodelling lace plant leaves?",
        "CONTEXTS": [BENCH_CONTEXT, "Second context about leaf windows."],
        "LONG_ANSWER": "Mitochondrial dynamics accompany the process.",
        "final_decision": "yes",
    }
    path.write_text(json.dumps({"21645374": item}))
    return path


@pytest.fixture
def bioasq_jsonl(tmp_path):
    path = tmp_path / "bioasq_sample.jsonl"
    lines = [
        {"pmid": 111, "text": "Is TNF alpha a target of adalimumab?"},
        {"pmid": 222},
        {"text": "A question with no PMID about the circadian regulation of hepatic lipid storage"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def records() -> pl.DataFrame:
    clean = "How does exercise change insulin sensitivity in adults with obesity over a year?"
    return pl.DataFrame(
        {
            "record_id": ["clean", "by_source", "by_context", "by_text", "by_both"],
            "source_pmid": [1, 21645374, 2, 3, 111],
            "context_pmids": [[5, 6], [7], [8, 222, 9], [10], [111, 4]],
            "texts": [
                [clean, "An answer."],
                ["Something else entirely."],
                ["Another question?"],
                ["Why?", "Background. " + BENCH_CONTEXT.upper() + "!"],
                ["x"],
            ],
        }
    )


def test_both_layouts_load_with_file_stem_names(pubmedqa_json, bioasq_jsonl):
    pqa, bioasq = load_benchmarks([str(pubmedqa_json), str(bioasq_jsonl)])
    assert (pqa.name, pqa.pmids, len(pqa.texts)) == ("mini_pqal", {21645374}, 4)
    assert (bioasq.name, bioasq.pmids, len(bioasq.texts)) == ("bioasq_sample", {111, 222}, 2)


def test_missing_or_malformed_files_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_benchmarks([str(tmp_path / "absent.jsonl")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"pmid": 1, "text": "ok"}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_benchmarks([str(bad)])


def test_each_reason_is_found_and_clean_records_pass(pubmedqa_json, bioasq_jsonl):
    benchmarks = load_benchmarks([str(pubmedqa_json), str(bioasq_jsonl)])
    found = find_contamination(records(), benchmarks)
    assert set(found.select("record_id", "benchmark", "reason").rows()) == {
        ("by_source", "mini_pqal", "source_pmid"),
        ("by_context", "bioasq_sample", "context_pmid"),
        ("by_text", "mini_pqal", "13-gram overlap"),
        ("by_both", "bioasq_sample", "source_pmid"),
        ("by_both", "bioasq_sample", "context_pmid"),
    }
    overlap = found.filter(pl.col("reason") == "13-gram overlap")["detail"][0]
    assert len(overlap.split()) == 13 and overlap in BENCH_CONTEXT.lower()
    assert found.filter(pl.col("record_id") == "by_context")["detail"][0] == "222"
    assert removed_per_benchmark(found) == {"bioasq_sample": 2, "mini_pqal": 2}


def test_twelve_shared_words_are_not_an_overlap(pubmedqa_json):
    twelve = " ".join(BENCH_CONTEXT.split()[:12])
    frame = pl.DataFrame(
        {"record_id": ["r"], "source_pmid": [1], "context_pmids": [[2]], "texts": [twelve]}
    )
    assert find_contamination(frame, load_benchmarks([str(pubmedqa_json)])).is_empty()
    assert not find_contamination(frame, load_benchmarks([str(pubmedqa_json)]), ngram=12).is_empty()


def test_ngrams_do_not_span_two_texts_of_a_record(pubmedqa_json):
    words = BENCH_CONTEXT.split()
    frame = pl.DataFrame(
        {
            "record_id": ["r"],
            "source_pmid": [1],
            "context_pmids": [[2]],
            "texts": [[" ".join(words[:7]), " ".join(words[7:14])]],
        }
    )
    assert find_contamination(frame, load_benchmarks([str(pubmedqa_json)])).is_empty()


def test_shipped_pubmedqa_list_matches_the_original(shared_data):
    shipped, original = load_benchmarks(
        [str(DEFAULT_DECONTAMINATION), str(shared_data / "benchmarks/pubmedqa/ori_pqal.json")]
    )
    assert shipped.name == "pubmedqa_pqal"
    assert shipped.pmids == original.pmids and len(shipped.pmids) == 1000
    test_pmids = json.loads(
        (shared_data / "benchmarks/pubmedqa/test_ground_truth.json").read_text()
    )
    lines = [json.loads(line) for line in DEFAULT_DECONTAMINATION.read_text().splitlines()]
    assert {str(line["pmid"]) for line in lines if line["split"] == "test"} == set(test_pmids)
    # A benchmark question found verbatim inside a record is caught through the shipped list.
    item = json.loads((shared_data / "benchmarks/pubmedqa/ori_pqal.json").read_text())["21645374"]
    frame = pl.DataFrame(
        {
            "record_id": ["r"],
            "source_pmid": [1],
            "context_pmids": [[2]],
            "texts": [item["CONTEXTS"][0]],
        }
    )
    assert find_contamination(frame, [shipped])["reason"].to_list() == ["13-gram overlap"]


def test_contamination_becomes_one_filtered_row_per_record_and_benchmark(
    pubmedqa_json, bioasq_jsonl
):
    found = find_contamination(records(), load_benchmarks([str(pubmedqa_json), str(bioasq_jsonl)]))
    rows = contamination_filters(found)
    assert rows.height == 4
    both = rows.filter(pl.col("record_id") == "by_both").row(0, named=True)
    assert both["filter"] == "decontamination:bioasq_sample"
    assert both["reason"] == "context_pmid: 111; source_pmid: 111"
    assert both["twin_id"] is None
