"""training_set and training_export through Dagster (issue 5), on the sample distilled offline
plus crafted evaluated_qa rows: an exact and a near duplicate across two categories, a record
contaminated by a benchmark PMID and one by a 13-gram overlap, and one source PMID with
candidates in two categories. The checks pass on that, and fail on corrupted rows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import datasets
import polars as pl
import pytest

from mkailin_assets import settings
from mkailin_assets.checks.training_checks import training_set_checks
from mkailin_assets.curation.export import MULTI_CATEGORY_RULE
from mkailin_assets.db import open_connection
from mkailin_assets.resources.method import MethodConfig
from tests.harness import (
    OFFLINE_CATEGORIES,
    Pipeline,
    check_outcomes,
    materialization_metadata,
    offline_sample_pipeline,
)

BENCHMARK = "bench_sample"
EXACT_QUESTION = "Does a structured handover checklist reduce medication errors on night shifts?"
NEAR_WORDS = [
    "How",
    "do",
    "community",
    "health",
    "workers",
    "trained",
    "in",
    "malaria",
    "rapid",
    "diagnostic",
    "testing",
    "change",
    "the",
    "time",
    "to",
    "treatment",
    "and",
    "the",
    "use",
    "of",
    "artemisinin",
    "combination",
    "therapy",
    "for",
    "febrile",
    "children",
    "in",
    "rural",
    "districts",
]
NEAR_A = " ".join(NEAR_WORDS) + "?"
NEAR_B = " ".join([*NEAR_WORDS[:-1], "villages"]) + "?"
SAME_CATEGORY_QUESTION = "Which staffing ratio keeps neonatal units below the infection target?"
# Removed at export, where the twins of different categories meet.
EXPORT_DUPLICATES = ["crafted-exact-b", "crafted-near-b"]
LEAKED_SENTENCE = (
    "Quarterly supervision visits combined with peer mentoring sustained adherence to the "
    "integrated management protocol across every participating clinic"
)


def craft(pipeline: Pipeline, category: str, candidate_id: str, template: str, **values: Any):
    """A new evaluated_qa row copied from a real one, with the given columns replaced."""
    replaced = ", ".join(f"? AS {column}" for column in ["category", "candidate_id", *values])
    pipeline.execute(
        f"INSERT INTO evaluated_qa SELECT * REPLACE ({replaced}) FROM evaluated_qa "
        "WHERE candidate_id = ? LIMIT 1",
        [category, candidate_id, *values.values(), template],
    )


def preferred(pipeline: Pipeline, category: str) -> pl.DataFrame:
    return pipeline.frame(
        "SELECT candidate_id, source_pmid, context_pmids FROM evaluated_qa "
        "WHERE category = ? AND is_preferred AND answer_flag IS NULL ORDER BY candidate_id",
        [category],
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("training")
    bench_file = root / f"{BENCHMARK}.jsonl"
    pipeline = offline_sample_pipeline(
        root / "pipeline",
        MKAILIN_DECONTAMINATION=f"{bench_file},{settings.DEFAULT_DECONTAMINATION}",
    )
    k, z = preferred(pipeline, "K"), preferred(pipeline, "Z")
    template = k["candidate_id"][0]
    untouchable = {int(k["source_pmid"][0]), *k["context_pmids"][0]}
    # A real source of another category, listed by the benchmark: the crafted rows (copies of
    # the template) must not refer to it, or they would be removed as contaminated too.
    contaminated_source = next(
        int(p) for p in preferred(pipeline, "H")["source_pmid"] if int(p) not in untouchable
    )
    shared_source = int(z["source_pmid"][0])  # gets a crafted candidate in K and in Z
    craft(pipeline, "K", "crafted-exact-a", template, question=EXACT_QUESTION)
    craft(pipeline, "Z", "crafted-exact-b", template, question=f"  {EXACT_QUESTION.upper()} ")
    craft(pipeline, "K", "crafted-near-a", template, question=NEAR_A)
    craft(pipeline, "Z", "crafted-near-b", template, question=NEAR_B)
    craft(pipeline, "K", "crafted-same-a", template, question=SAME_CATEGORY_QUESTION)
    craft(pipeline, "K", "crafted-same-b", template, question=SAME_CATEGORY_QUESTION.lower())
    craft(
        pipeline,
        "Z",
        "crafted-leak",
        template,
        question="Which supervision model keeps rural clinics on protocol?",
        answer=f"{LEAKED_SENTENCE}.",
    )
    for letter, suffix in (("K", "a"), ("Z", "b")):
        craft(
            pipeline,
            letter,
            f"crafted-split-{suffix}",
            template,
            source_pmid=shared_source,
            question=f"Which outcome did the crafted study {suffix} of this source measure?",
        )
    bench_file.write_text(
        json.dumps({"pmid": contaminated_source, "text": "A benchmark item about it."})
        + "\n"
        + json.dumps({"pmid": 99990002, "text": f"Background. {LEAKED_SENTENCE}, it said."})
        + "\n",
        encoding="utf-8",
    )
    runs = {c: pipeline.materialize(["training_set"], c) for c in OFFLINE_CATEGORIES}
    export = pipeline.materialize(["training_export"])
    return {
        "pipeline": pipeline,
        "runs": runs,
        "export": export,
        "contaminated_source": contaminated_source,
        "shared_source": shared_source,
    }


def filtered(pipeline: Pipeline) -> pl.DataFrame:
    return pipeline.frame("SELECT * FROM training_filtered ORDER BY record_id")


def test_every_training_check_passed(built):
    for letter, result in built["runs"].items():
        outcomes = check_outcomes(result)
        assert len(outcomes) == 8 and all(outcomes.values()), (letter, outcomes)
    pipeline: Pipeline = built["pipeline"]
    kinds = dict(pipeline.rows("SELECT kind, count(*) FROM training_set GROUP BY kind"))
    assert kinds["sft"] > 0 and kinds["pretrain"] > 0


def test_the_hygiene_check_of_a_category_run_reads_that_category(built):
    for letter, result in built["runs"].items():
        (hygiene,) = [
            evaluation
            for evaluation in result.get_asset_check_evaluations()
            if evaluation.check_name == "no_benchmark_pmid_in_any_field"
        ]
        assert hygiene.metadata["category"].value == letter


def test_a_category_removes_its_own_duplicates_with_their_twin(built):
    pipeline: Pipeline = built["pipeline"]
    rows = filtered(pipeline).filter(pl.col("record_id").str.contains("crafted-same"))
    sft = rows.filter(pl.col("kind") == "sft")
    assert sft.select("category", "record_id", "filter", "twin_id").rows() == [
        ("K", "sft:K:crafted-same-b", "exact_dup", "crafted-same-a"),
    ]
    k_meta = materialization_metadata(built["runs"]["K"], "training_set")
    assert k_meta["removed_by_filter"]["exact_dup"] >= 1


def test_duplicates_across_categories_are_removed_by_the_export_with_their_twin(built):
    pipeline: Pipeline = built["pipeline"]
    # A category's records never depend on another category: both twins stay in training_set.
    crafted = filtered(pipeline).filter(pl.col("record_id").str.contains("crafted-(exact|near)"))
    assert crafted.is_empty()
    kept = {r[0] for r in pipeline.rows("SELECT record_id FROM training_set WHERE kind = 'sft'")}
    assert {
        "sft:K:crafted-exact-a", "sft:K:crafted-near-a", "sft:Z:crafted-exact-b",
        "sft:Z:crafted-near-b",
    } <= kept  # fmt: skip
    # The export reads every category and keeps the smaller candidate id of each twin pair.
    exported = pl.concat(
        [pl.read_parquet(p) for p in (pipeline.export_dir / "sft").glob("*.parquet")]
    )
    ids = set(exported["record_id"].to_list())
    assert {"sft:K:crafted-exact-a", "sft:K:crafted-near-a"} <= ids
    assert not {"sft:Z:crafted-exact-b", "sft:Z:crafted-near-b"} & ids
    card = (pipeline.export_dir / "README.md").read_text(encoding="utf-8")
    assert "| exact_dup | sft |" in card and "| near_dup | sft |" in card
    # The card, the manifest and the files count the same records, and say why per-category
    # figures of the database are larger.
    manifest = json.loads((pipeline.export_dir / "manifest.json").read_text())
    per_kind = sum(n for splits in manifest["counts"].values() for n in splits.values())
    assert manifest["records"] == per_kind == sum(manifest["by_category"].values())
    assert manifest["counts"]["sft"] and sum(manifest["counts"]["sft"].values()) == exported.height
    assert MULTI_CATEGORY_RULE in card and manifest["rule"] == MULTI_CATEGORY_RULE
    membership = manifest["by_category_membership"]
    assert all(membership[c] >= n for c, n in manifest["by_category"].items())


def test_benchmark_pmids_and_13_gram_overlaps_are_removed(built):
    pipeline: Pipeline = built["pipeline"]
    source = built["contaminated_source"]
    removed = filtered(pipeline).filter(pl.col("filter") == f"decontamination:{BENCHMARK}")
    reasons = removed["reason"].to_list()
    assert any(f"source_pmid: {source}" in r for r in reasons)
    leak = removed.filter(pl.col("record_id") == "sft:Z:crafted-leak")
    assert leak.height == 1 and leak["reason"][0].startswith("13-gram overlap")
    # Nothing left refers to the benchmark PMID, as source or as context.
    left = pipeline.scalar(
        "SELECT count(*) FROM training_set WHERE source_pmid = $p OR list_contains(context_pmids, $p)",
        {"p": source},
    )
    assert left == 0
    # The leaked sentence is in the SFT answer only; the pre-training text has no answer.
    leaked = pipeline.rows(
        "SELECT record_id FROM training_set WHERE record_id LIKE '%crafted-leak' ORDER BY 1"
    )
    assert leaked == [("pretrain:Z:crafted-leak",)]
    # The report counts removals per benchmark; the shipped PubMedQA list removes nothing here.
    per_benchmark: dict[str, int] = {}
    for result in built["runs"].values():
        counts = materialization_metadata(result, "training_set")["removed_per_benchmark"]
        for name, n in counts.items():
            per_benchmark[name] = per_benchmark.get(name, 0) + n
    assert per_benchmark[BENCHMARK] == removed.height
    assert per_benchmark.get("pubmedqa_pqal", 0) == 0


def test_a_source_pmid_never_sits_in_two_splits(built, tmp_path):
    pipeline: Pipeline = built["pipeline"]
    shared = built["shared_source"]
    splits = pipeline.rows(
        "SELECT record_id, split FROM training_set WHERE source_pmid = ? ORDER BY record_id",
        [shared],
    )
    record_ids = [r[0] for r in splits]
    assert {"sft:K:crafted-split-a", "sft:Z:crafted-split-b"} <= set(record_ids)
    assert len({r[1] for r in splits}) == 1
    assert (
        pipeline.scalar(
            "SELECT count(*) FROM (SELECT source_pmid FROM training_set GROUP BY source_pmid "
            "HAVING count(DISTINCT split) > 1)"
        )
        == 0
    )

    # Corrupt one row: the check that passed in the run now fails.
    corrupted = pipeline.copy_to(tmp_path / "corrupted")
    other = "validation" if splits[0][1] != "validation" else "train"
    corrupted.execute(
        "UPDATE training_set SET split = ? WHERE record_id = 'sft:Z:crafted-split-b'", [other]
    )
    outcomes = run_checks(corrupted, "Z", min_records=1)
    assert outcomes["no_pmid_in_two_splits"] is False
    assert outcomes["no_duplicates_left"] is True


def test_split_ratio_and_minimum_record_checks_fail_when_they_should(built, tmp_path):
    pipeline: Pipeline = built["pipeline"]
    assert run_checks(pipeline, "K", min_records=1)["split_ratios_within_tolerance"] is True
    corrupted = pipeline.copy_to(tmp_path / "skewed")
    corrupted.execute("UPDATE training_set SET split = 'test' WHERE category = 'K'")
    outcomes = run_checks(corrupted, "K", min_records=1)
    assert outcomes["split_ratios_within_tolerance"] is False

    # Through Dagster: a minimum the category cannot meet fails its blocking check.
    strict = MethodConfig(min_records_per_category=10_000)
    result = pipeline.copy_to(tmp_path / "strict").materialize(
        ["training_set"], "K", raise_on_error=False, method=strict
    )
    assert check_outcomes(result)[("training_set", "minimum_records")] is False


def run_checks(pipeline: Pipeline, category: str, min_records: int) -> dict[str, bool]:
    from mkailin_assets.curation.decontamination import load_benchmarks
    from mkailin_assets.stages.training import benchmark_pmids

    benchmarks = load_benchmarks(pipeline.env["MKAILIN_DECONTAMINATION"].split(","))
    con = open_connection(pipeline.db_path, read_only=True)
    try:
        results = training_set_checks(
            con, category, MethodConfig().ratios(), benchmark_pmids(benchmarks), min_records
        )
    finally:
        con.close()
    return {r.check_name: r.passed for r in results}


def test_export_loads_with_datasets_and_the_card_documents_it(built):
    pipeline: Pipeline = built["pipeline"]
    out: Path = pipeline.export_dir
    meta = materialization_metadata(built["export"], "training_export")
    # A record whose source sits in several categories is exported once.
    # ... and a candidate whose question duplicates one of another category is not exported.
    expected = dict(
        pipeline.rows(
            "SELECT split, count(DISTINCT split_part(record_id, ':', 3)) FROM training_set "
            "WHERE kind = 'sft' AND split_part(record_id, ':', 3) NOT IN (SELECT unnest(?)) "
            "GROUP BY split",
            [EXPORT_DUPLICATES],
        )
    )
    files = {split: str(out / "sft" / f"{split}.parquet") for split in expected}
    sft = datasets.load_dataset("parquet", data_files=files)
    assert {split: sft[split].num_rows for split in sft} == expected
    assert meta["counts"]["sft"] == expected
    first = sft["train"][0]
    assert [m["role"] for m in first["messages"]][-1] == "assistant"
    assert json.loads(first["provenance"])["source_pmid"] == first["source_pmid"]
    if (out / "dpo" / "train.parquet").exists():
        dpo = datasets.load_dataset("parquet", data_files=str(out / "dpo" / "train.parquet"))
        assert {"prompt", "chosen", "rejected"} <= set(dpo["train"].column_names)

    card = (out / "README.md").read_text(encoding="utf-8")
    exported = pl.concat(
        [pl.read_parquet(p).with_columns(pl.lit(s).alias("split")) for s, p in files.items()]
    )
    for (category, split), group in exported.group_by("category", "split"):
        row = re.search(rf"^\| sft \| {category} \|(.*)\|$", card, re.MULTILINE)
        assert row is not None, category
        header = re.search(r"^\| kind \| category \|(.*)\|$", card, re.MULTILINE)
        columns = [c.strip() for c in header.group(1).split("|")]
        cells = [c.strip() for c in row.group(1).split("|")]
        assert int(cells[columns.index(split)]) == group.height
    assert "## Filters" in card and "| exact_dup | sft |" in card and "| near_dup | sft |" in card
    assert f"decontamination:{BENCHMARK}" in card
    assert "offline-extractive" in card  # the models section
    for version in ("qgen-mechanistic-v2", "qgen-clinical-v2", "judge-pairwise-v1"):
        assert version in card
    assert "National Library of Medicine" in card and "## Licence" in card
    assert "## MeSH coverage" in card and "depth 1" in card
    assert "## Benchmark results" in card and "No model evaluated yet" in card
