"""Figures of one setting: accuracy with a 95% Wilson score interval, macro-F1, per-class recall.

An unparseable answer (label None) is a wrong answer: it counts in n and in the recall of its
gold class, and is predicted as no class. Macro-F1 averages F1 over the labels present in the
gold or predicted labels (sklearn's default label set), with F1 = 0 when precision and recall
are both 0. Wilson rather than the normal approximation: it stays inside [0, 1] and is right
for small subsets (a CI smoke run of 10 items).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from mkailin_assets.evaluation.pubmedqa import LABELS

Z_95 = 1.959963984540054
CI_METHOD = "wilson"


@dataclass(frozen=True)
class Figures:
    n: int
    correct: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    macro_f1: float | None
    recall: dict[str, float | None] = field(default_factory=dict)
    unparseable: int = 0
    majority_baseline: float | None = None  # share of the most frequent gold label

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _f1(gold: Sequence[str], predicted: Sequence[str | None], label: str) -> float:
    tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
    predicted_n = sum(1 for p in predicted if p == label)
    gold_n = sum(1 for g in gold if g == label)
    precision = tp / predicted_n if predicted_n else 0.0
    recall = tp / gold_n if gold_n else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score(gold: Sequence[str], predicted: Sequence[str | None]) -> Figures:
    if len(gold) != len(predicted):
        raise ValueError("score: gold and predicted differ in length")
    n = len(gold)
    if n == 0:
        return Figures(0, 0, None, None, None, None, {label: None for label in LABELS})
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    low, high = wilson_interval(correct, n)
    present = [label for label in LABELS if label in gold or label in predicted]
    macro_f1 = sum(_f1(gold, predicted, label) for label in present) / len(present)
    recall: dict[str, float | None] = {}
    for label in LABELS:
        gold_n = sum(1 for g in gold if g == label)
        hits = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        recall[label] = hits / gold_n if gold_n else None
    majority = max(sum(1 for g in gold if g == label) for label in LABELS) / n
    return Figures(
        n=n,
        correct=correct,
        accuracy=correct / n,
        ci_low=low,
        ci_high=high,
        macro_f1=macro_f1,
        recall=recall,
        unparseable=sum(1 for p in predicted if p is None),
        majority_baseline=majority,
    )
