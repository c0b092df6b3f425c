"""Training records from evaluated QA, their fit to training_set, and the exports' layouts."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
import pytest

from mkailin_assets.curation.export import export_training_set
from mkailin_assets.curation.records import (
    build_dpo_records,
    build_evaluator_records,
    build_pretrain_records,
    build_sft_records,
    pretrain_text,
)
from mkailin_assets.curation.splits import assign_splits
from mkailin_assets.db import apply_schema, open_connection, replace_partition

NOW = datetime(2026, 1, 1)
CITATIONS = {
    100: {"title": "Aspirin and stroke", "abstract": "Aspirin lowered stroke risk.\nIn adults."},
    200: {"title": "Warfarin trial", "abstract": "Warfarin was compared with aspirin."},
    300: {"title": "Kidney outcomes", "abstract": "Renal function declined."},
}
MESH = {100: {"descriptor_uis": ["D001241"], "tree_numbers": ["D02.455.426.559.389.657.109"]}}


def candidate(category, cid, question, preferred, contexts, **extra):
    row = {
        "category": category, "candidate_id": cid, "source_pmid": 100, "question": question,
        "agent": "mechanistic" if cid.endswith("a") else "clinical", "model": "m1",
        "prompt_version": "q-v1", "question_descriptors": ["D001241"], "context_pmids": contexts,
        "mesh_score": 0.7 if preferred else 0.5, "contexts_with_mesh": 2,
        "contexts_without_mesh": 0, "ic_snapshot": "ic1", "is_preferred": preferred,
        "preference_source": "judge", "answer": None, "final_decision": None,
        "cited_pmids": None, "answer_flag": None, "answer_model": None, "answer_call_id": None,
        "question_call_id": f"call-{cid}", "source_hash": "h", "created_at": NOW,
    }  # fmt: skip
    row.update(extra)
    return row


@pytest.fixture
def tables(tmp_db):
    """evaluated_qa and preference_pairs rows, read back through the real schema."""
    con = open_connection(tmp_db)
    apply_schema(con)
    answered = {"answer": "Yes [PMID 200].", "final_decision": "yes", "cited_pmids": [200],
                "answer_model": "m2", "answer_call_id": "call-ans"}  # fmt: skip
    evaluated = pl.DataFrame(
        [
            candidate(
                "C", "c1a", "Does aspirin lower stroke risk?", True, [200, 300, 999], **answered
            ),
            candidate("C", "c1b", "What was declining?", False, [300]),
            candidate("D", "d1a", "Does aspirin lower stroke risk?", True, [200], **answered),
            candidate("D", "d1b", "Flagged one?", False, [300]),
        ]
    )
    pairs = pl.DataFrame(
        [
            {"category": "C", "source_pmid": 100, "chosen_id": "c1a", "rejected_id": "c1b",
             "chosen_score": 0.7, "rejected_score": 0.5, "margin": 0.2, "cold_start_label": "c1a",
             "judge_verdict": "c1a", "judge_consistent": True, "label_source": "judge",
             "judge_call_ids": ["j1", "j2"], "created_at": NOW},
            {"category": "D", "source_pmid": 100, "chosen_id": "d1a", "rejected_id": "d1b",
             "chosen_score": 0.5, "rejected_score": 0.7, "margin": 0.2, "cold_start_label": "d1b",
             "judge_verdict": "d1a", "judge_consistent": True, "label_source": "judge",
             "judge_call_ids": ["j3", "j4"], "created_at": NOW},
        ]
    )  # fmt: skip
    for category in ("C", "D"):
        replace_partition(
            con, "evaluated_qa", category, evaluated.filter(pl.col("category") == category)
        )
        replace_partition(
            con, "preference_pairs", category, pairs.filter(pl.col("category") == category)
        )
    yield (
        con,
        con.sql("select * from evaluated_qa").pl(),
        con.sql("select * from preference_pairs").pl(),
    )
    con.close()


def all_records(evaluated, pairs):
    return pl.concat(
        [
            build_sft_records(evaluated, CITATIONS, MESH),
            build_dpo_records(pairs, evaluated, CITATIONS, MESH),
            build_evaluator_records(pairs, evaluated, CITATIONS, MESH),
            build_pretrain_records(evaluated, CITATIONS, MESH),
        ]
    )


def test_sft_records_are_chat_messages_with_flat_fields_and_provenance(tables):
    _, evaluated, _ = tables
    sft = build_sft_records(evaluated, CITATIONS, MESH)
    assert sft["record_id"].to_list() == ["sft:C:c1a", "sft:D:d1a"]
    record = json.loads(sft["record"][0])
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
    assert "[PMID 200] Warfarin trial" in record["messages"][1]["content"]
    assert record["messages"][1]["content"].index("PMID 200") < record["messages"][1][
        "content"
    ].index("PMID 300")
    assert record["messages"][2]["content"] == "Yes [PMID 200]." == record["answer"]
    assert [c["pmid"] for c in record["contexts"]] == [200, 300]
    assert record["final_decision"] == "yes"
    prov = json.loads(sft["provenance"][0])
    assert prov["source_pmid"] == 100 and prov["context_pmids"] == [200, 300, 999]
    assert prov["missing_context_pmids"] == [999]
    assert prov["mesh"]["tree_numbers"] == ["D02.455.426.559.389.657.109"]
    assert prov["llm_call_ids"] == ["call-c1a", "call-ans"]
    assert (prov["agent"], prov["prompt_version"], prov["model"]["answer"]) == (
        "mechanistic",
        "q-v1",
        "m2",
    )
    assert prov["scores"]["mesh_score"] == 0.7


def test_dpo_and_evaluator_records(tables):
    _, evaluated, pairs = tables
    dpo = build_dpo_records(pairs, evaluated, CITATIONS, MESH)
    record = json.loads(dpo.filter(pl.col("category") == "C")["record"][0])
    assert "Aspirin lowered stroke risk." in record["prompt"]
    assert (record["chosen"], record["rejected"]) == (
        "Does aspirin lower stroke risk?",
        "What was declining?",
    )
    assert (record["margin"], record["label_source"]) == (0.2, "judge")
    prov = json.loads(dpo["provenance"][0])
    assert prov["llm_call_ids"] == ["call-c1a", "call-c1b", "j1", "j2"]
    evaluator = build_evaluator_records(pairs, evaluated, CITATIONS, MESH)
    # In D the judge overrode the MeSH label: the evaluator still learns the cold-start choice.
    d_record = json.loads(evaluator.filter(pl.col("category") == "D")["record"][0])
    assert d_record["chosen"].startswith("Question: Flagged one?")
    assert d_record["label_source"] == "cold_start"
    assert evaluator.filter(pl.col("category") == "D")["record_id"][0] == "evaluator:D:d1b>d1a"


def test_pretrain_line_is_the_authors_format():
    contexts = [
        {"pmid": 2, "title": "T2", "text": "A2\nmore"},
        {"pmid": 3, "title": "T3", "text": "A3"},
    ]
    assert pretrain_text("Title", "Abstract\ntext", contexts, "Why?") == (
        "After reading the paper ```Title: Abstract text```, I searched for related materials "
        "```T2: A2 more T3: A3``` and pondered the following scientific question ```Why?```."
    )


def test_rows_fit_training_set_and_export_loads_with_datasets(tables, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    con, evaluated, pairs = tables
    training = assign_splits(all_records(evaluated, pairs)).with_columns(
        pl.lit(NOW).alias("created_at")
    )
    for category in ("C", "D"):
        replace_partition(
            con, "training_set", category, training.filter(pl.col("category") == category)
        )
    stored = con.sql("select * exclude (created_at) from training_set").pl()
    filtered = pl.DataFrame(
        {"category": ["C"], "record_id": ["sft:C:dup"], "kind": ["sft"], "filter": ["near_dup"],
         "reason": ["jaccard 0.9"], "twin_id": ["sft:C:c1a"], "created_at": [NOW]}
    )  # fmt: skip
    meta = {"models": {"question": "m1", "answer": "m2"}, "prompts": {"q-v1": "mechanistic"},
            "filters": {"near_dup_threshold": 0.8}, "mesh_coverage": {"C": "12.5% of descriptors"}}  # fmt: skip
    out = tmp_path / "exports" / "current"
    report = export_training_set(stored, filtered, out, meta)
    split = training["split"][0]  # one source PMID: every record is in one split
    assert report.counts == {
        k: {split: n} for k, n in [("dpo", 2), ("evaluator", 2), ("pretrain", 2), ("sft", 2)]
    }
    cache = str(tmp_path / "hf_cache")
    sft = datasets.load_dataset(
        "parquet", data_files={split: str(out / f"sft/{split}.parquet")}, cache_dir=cache
    )[split]
    assert sft[0]["messages"][2] == {"role": "assistant", "content": "Yes [PMID 200]."}
    assert json.loads(sft[0]["provenance"])["source_pmid"] == 100
    dpo = datasets.load_dataset(
        "json", data_files=str(out / f"dpo/{split}.jsonl"), cache_dir=cache
    )["train"]
    assert {"prompt", "chosen", "rejected", "margin", "label_source"} <= set(dpo.column_names)
    card = report.card_path.read_text()
    for expected in ("| sft | C |", "near_dup", "12.5% of descriptors", "m2", "National Library of Medicine", f"path: sft/{split}.parquet"):  # fmt: skip
        assert expected in card
    assert (
        (out / f"pretrain/{split}.txt").read_text().startswith("After reading the paper ```Aspirin")
    )


def test_export_replaces_atomically_and_a_failure_keeps_the_previous_export(tmp_path):
    row = {"category": "C", "record_id": "pretrain:C:x", "kind": "pretrain", "split": "train",
           "source_pmid": 1, "record": json.dumps({"text": "line one"}), "provenance": "{}"}  # fmt: skip
    out = tmp_path / "export"
    empty = pl.DataFrame(schema={"filter": pl.String, "kind": pl.String})
    export_training_set(pl.DataFrame([row]), empty, out, {})
    export_training_set(
        pl.DataFrame([{**row, "record": json.dumps({"text": "line two"})}]), empty, out, {}
    )
    assert (out / "pretrain/train.txt").read_text() == "line two\n"
    with pytest.raises(ValueError, match="unknown training record kind"):
        export_training_set(pl.DataFrame([{**row, "kind": "bogus"}]), empty, out, {})
    assert (out / "pretrain/train.txt").read_text() == "line two\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_an_empty_training_set_exports_a_card_that_says_so(tmp_path):
    training = pl.DataFrame(
        schema={"category": pl.String, "record_id": pl.String, "kind": pl.String,
                "split": pl.String, "source_pmid": pl.Int64, "record": pl.String,
                "provenance": pl.String}
    )  # fmt: skip
    filtered = pl.DataFrame(schema={"filter": pl.String, "kind": pl.String})
    report = export_training_set(training, filtered, tmp_path / "empty", {"name": "demo"})
    assert report.counts == {}
    card = report.card_path.read_text()
    assert "configs: []" in card and "No records." in card
