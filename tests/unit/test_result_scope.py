"""benchmark_results rows say what was asked: `test`/`all` only when complete, a limited run's
subset with its size; comparisons with earlier runs and the published figures are like with like."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from mkailin_assets.evaluation.config import EvalModel
from mkailin_assets.evaluation.pubmedqa import PubMedQAItem
from mkailin_assets.evaluation.result_scope import comparability, full_sizes, like_with_like
from mkailin_assets.stages.benchmark import ANSWER_SCHEMA, result_rows

MODEL = EvalModel(name="offline", backend="offline", max_tokens=None)
# A benchmark file of 10 items: 5 test, 5 train_dev (PubMedQA's 500 / 1,000 in small).
EVERY = [
    PubMedQAItem(p, f"q{p}", ("c",), "yes", "test" if p <= 5 else "train_dev") for p in range(1, 11)
]
FULL = full_sizes(EVERY)


def _answers(items: list[PubMedQAItem]) -> pl.DataFrame:
    rows = [
        {
            "run_id": "r",
            "model": "offline",
            "benchmark": "pubmedqa",
            "setting": "reasoning_required",
            "pmid": i.pmid,
            "split": i.split,
            "gold": "yes",
            "answer": "yes",
            "parse": "json",
            "raw_text": "yes",
            "context_pmids": [],
            "status": "answered",
            "call_id": None,
            "created_at": datetime.now(),
        }
        for i in items
    ]
    return pl.DataFrame(rows, schema=ANSWER_SCHEMA)


def _labels(items: list[PubMedQAItem], full=FULL) -> dict[str, tuple[int, int]]:
    rows = result_rows(_answers(items), "r", MODEL, None, 4, full)
    return {r["split"]: (r["n"], r["n_expected"]) for r in rows.iter_rows(named=True)}


def test_every_item_asked_gives_test_and_all():
    assert FULL == {"test": 5, "all": 10}
    assert _labels(EVERY) == {"test": (5, 5), "all": (10, 10)}


def test_the_test_split_asked_writes_no_all_row():
    # MKAILIN_EVAL_SPLIT=test: the `all` row would hold the same 500 items.
    assert _labels(EVERY[:5]) == {"test": (5, 5)}


def test_a_limited_run_is_marked_as_a_subset_with_its_size():
    # MKAILIN_EVAL_LIMIT=3 (test items come first): no `all`, no `test`.
    assert _labels(EVERY[:3]) == {"test_first_3": (3, 3)}
    # A limit past the test items: the whole test split, and a subset of all.
    assert _labels(EVERY[:7]) == {"test": (5, 5), "all_first_7": (7, 7)}


def test_without_the_full_sizes_the_asked_items_are_the_whole_file():
    assert _labels(EVERY[:3], full=None) == {"test": (3, 3)}


def _results(split: str, run_id: str, age: int, prompt: str = "v1") -> dict:
    return {
        "run_id": run_id,
        "benchmark": "pubmedqa",
        "setting": "reasoning_required",
        "split": split,
        "prompt_version": prompt,
        "top_k": None,
        "accuracy": 0.5,
        "partial": False,
        "created_at": datetime(2026, 1, 1) + timedelta(days=age),
    }


def test_comparisons_are_like_with_like():
    history = pl.DataFrame(
        [
            _results("test", "full-old", 0),
            _results("test", "full-new", 1),
            _results("test_first_30", "smoke", 2),  # latest run, but a subset
            _results("test", "other-prompt", 3, prompt="v0"),
        ]
    )
    current = pl.DataFrame([_results("test", "now", 4)])
    previous = like_with_like(current, history)
    assert previous["run_id"].to_list() == ["full-new"]
    meta = comparability(current, previous)
    assert meta["comparable_with_previous"] == 1
    assert meta["published_comparison"].startswith("pubmedqa.reasoning_required.test compared")


def test_metadata_says_when_nothing_is_comparable():
    history = pl.DataFrame([_results("test", "full", 0)])
    current = pl.DataFrame([_results("test_first_30", "smoke", 1)])
    previous = like_with_like(current, history)
    assert previous.is_empty()
    meta = comparability(current, previous)
    assert meta["comparable_with_previous"] == 0
    assert meta["previous_comparison"].startswith("none comparable")
    assert meta["published_comparison"].startswith("none comparable")
    assert like_with_like(current, history.clear()).is_empty()
