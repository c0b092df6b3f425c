"""Splits by source PMID: no PMID in two splits, stable under additions, ratios honoured."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mkailin_assets.curation.splits import assign_splits, split_counts, split_of


def candidates(pmids: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"record_id": [f"r{i}" for i in range(len(pmids))], "source_pmid": pmids})


def test_a_pmid_in_a_train_and_a_validation_candidate_gets_one_split():
    # Many records share each PMID, as when two agents' candidates come from one abstract.
    pmids = [p for p in range(1, 2001) for _ in range(3)]
    result = assign_splits(candidates(pmids))
    per_pmid = result.group_by("source_pmid").agg(pl.col("split").n_unique())
    assert per_pmid["split"].max() == 1
    assert (
        result.height == len(pmids)
        and result["record_id"].to_list() == candidates(pmids)["record_id"].to_list()
    )


def test_assignment_is_stable_when_records_are_added():
    before = assign_splits(candidates(list(range(1, 5001))))
    after = assign_splits(candidates(list(range(1, 20001))))
    joined = before.join(after, on="source_pmid", suffix="_after")
    assert joined.height == 5000
    assert (joined["split"] == joined["split_after"]).all()


def test_ratios_are_honoured_within_tolerance():
    counts = split_counts(assign_splits(candidates(list(range(10_000, 60_000)))))
    assert counts["train"] / 50_000 == pytest.approx(0.9, abs=0.01)
    assert counts["validation"] / 50_000 == pytest.approx(0.05, abs=0.005)
    assert counts["test"] / 50_000 == pytest.approx(0.05, abs=0.005)


def test_custom_ratios_seed_and_empty_split():
    frame = candidates(list(range(1, 3001)))
    two = assign_splits(frame, {"train": 0.8, "validation": 0.2, "test": 0.0})
    assert set(two["split"]) == {"train", "validation"}
    reseeded = assign_splits(frame, {"train": 0.8, "validation": 0.2, "test": 0.0}, seed="other")
    assert not two["split"].equals(reseeded["split"])


def test_an_existing_split_column_is_replaced():
    frame = candidates([1, 2, 3]).with_columns(pl.lit("stale").alias("split"))
    assert "stale" not in assign_splits(frame)["split"].to_list()


@pytest.mark.parametrize("ratios", [{"train": 0.9, "test": 0.2}, {"train": 1.1, "test": -0.1}, {}])
def test_bad_ratios_are_refused(ratios):
    with pytest.raises(ValueError):
        assign_splits(candidates([1]), ratios)


def test_interval_edges():
    ratios = {"train": 0.5, "validation": 0.0, "test": 0.5}
    assert split_of(np.array([0.0, 0.4999, 0.5, 0.9999999]), ratios).tolist() == [0, 0, 2, 2]
