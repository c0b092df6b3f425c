"""The labelled PQA-L items (data/benchmarks/pubmedqa_pqal_labelled.jsonl by default).

Also reads PubMedQA's own ori_pqal.json (an object keyed by PMID); its items are all marked
`train_dev` unless a test_ground_truth.json sits beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

LABELS = ("yes", "no", "maybe")
TEST = "test"


@dataclass(frozen=True)
class PubMedQAItem:
    pmid: int
    question: str
    contexts: tuple[str, ...]
    final_decision: str  # the expert label
    split: str  # test | train_dev


def _item(pmid: int, question: str, contexts: list[str], label: str, split: str) -> PubMedQAItem:
    if label not in LABELS:
        raise ValueError(f"PubMedQA item {pmid}: final_decision {label!r} is not yes/no/maybe")
    return PubMedQAItem(int(pmid), question.strip(), tuple(contexts), label, split)


def _from_jsonl(path: Path) -> list[PubMedQAItem]:
    items = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = {"pmid", "question", "contexts", "final_decision"} - row.keys()
            if missing:
                raise ValueError(f"{path}:{number}: missing {sorted(missing)}")
            items.append(
                _item(
                    row["pmid"],
                    row["question"],
                    row["contexts"],
                    row["final_decision"],
                    row.get("split", "train_dev"),
                )
            )
    return items


def _from_pubmedqa_json(path: Path) -> list[PubMedQAItem]:
    data = json.loads(path.read_text(encoding="utf-8"))
    truth = path.parent / "test_ground_truth.json"
    test = set(json.loads(truth.read_text(encoding="utf-8"))) if truth.is_file() else set()
    return [
        _item(
            int(pmid),
            item["QUESTION"],
            item["CONTEXTS"],
            item["final_decision"],
            TEST if pmid in test else "train_dev",
        )
        for pmid, item in data.items()
    ]


def load_items(
    path: str | Path, split: str = "all", limit: int | None = None
) -> list[PubMedQAItem]:
    """Items ordered test split first, then by PMID; `split='test'` keeps the 500 test items,
    `limit` the first N (a deterministic subset for smoke runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PubMedQA file not found: {path} (MKAILIN_EVAL_PUBMEDQA)")
    items = _from_pubmedqa_json(path) if path.suffix == ".json" else _from_jsonl(path)
    items.sort(key=lambda item: (item.split != TEST, item.pmid))
    if split == TEST:
        items = [item for item in items if item.split == TEST]
    return items[:limit] if limit is not None else items
