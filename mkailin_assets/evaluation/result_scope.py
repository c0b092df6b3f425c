"""What a benchmark_results row covers, and which figures it may be compared with.

A row is labelled by what was asked: `test` only when every test item of the benchmark file was
asked, `all` only when every item was; a limited run's rows say so with their size
(`test_first_30`, `all_first_600`). A subset is never shown as the whole benchmark, and a figure
is compared only with a figure of the same label, prompt version and top-k (like with like); the
published references are PQA-L reasoning-required accuracies on the complete test split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from mkailin_assets.evaluation.prompts import BENCHMARK_OF, REASONING_REQUIRED
from mkailin_assets.evaluation.pubmedqa import TEST, PubMedQAItem

ALL = "all"
# What makes two rows comparable: the same items (label), prompt and retrieval depth.
LIKE_KEY = ["benchmark", "setting", "split", "prompt_version", "top_k"]


def full_sizes(items: Sequence[PubMedQAItem]) -> dict[str, int]:
    """Items of the complete benchmark file: its test split and all of it."""
    return {TEST: sum(1 for i in items if i.split == TEST), ALL: len(items)}


def scope_label(scope: str, asked: int, full: dict[str, int]) -> str:
    """`scope` when every item of it was asked, else `<scope>_first_<asked>`."""
    return scope if asked == full.get(scope) else f"{scope}_first_{asked}"


def asked_scopes(group: pl.DataFrame, full: dict[str, int]) -> list[tuple[str, pl.DataFrame]]:
    """(label, answers) per scope a setting's answers cover: the test items asked, and all items
    asked only when that adds items beyond the test ones (else it is the same subset twice)."""
    test = group.filter(pl.col("split") == TEST)
    scopes = []
    if test.height:
        scopes.append((scope_label(TEST, test.height, full), test))
    if group.height > test.height:
        scopes.append((scope_label(ALL, group.height, full), group))
    return scopes


def is_complete(label: str) -> bool:
    return label in (TEST, ALL)


def like_with_like(current: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """The latest earlier row matching each current row on LIKE_KEY (none: no row)."""
    if current.is_empty() or history.is_empty():
        return history.clear()
    keys = current.select(LIKE_KEY).unique()
    latest = history.sort("created_at", "run_id").unique(LIKE_KEY, keep="last")
    return latest.join(keys, on=LIKE_KEY, nulls_equal=True).sort(LIKE_KEY, nulls_last=True)


def published_comparable(row: dict[str, Any]) -> bool:
    """The published PubMedQA figures are reasoning-required accuracies on all 500 test items."""
    return (
        row["setting"] == REASONING_REQUIRED
        and row["benchmark"] == BENCHMARK_OF[REASONING_REQUIRED]
        and row["split"] == TEST
    )


def comparability(current: pl.DataFrame, previous: pl.DataFrame) -> dict[str, Any]:
    """Metadata saying what each figure was compared with, and when nothing was comparable."""
    rows = current.to_dicts()
    matched = previous.select(LIKE_KEY).to_dicts() if previous.height else []
    published = [
        f"{r['benchmark']}.{r['setting']}.{r['split']}" for r in rows if published_comparable(r)
    ]
    return {
        "scopes_asked": sorted({r["split"] for r in rows}),
        "comparable_with_previous": len(matched),
        "previous_comparison": (
            f"{len(matched)} of {len(rows)} figures compared with an earlier run of the same "
            "items, prompt version and top-k"
            if matched
            else "none comparable: no earlier run of this model asked the same items with the "
            "same prompt version and top-k"
        ),
        "published_comparison": (
            f"{', '.join(published)} compared with the published figures"
            if published
            else "none comparable: the published figures are reasoning-required accuracies on "
            "all 500 test items, which this run did not ask"
        ),
    }
