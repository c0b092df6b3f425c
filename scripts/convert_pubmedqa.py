"""Convert PubMedQA's PQA-L (ori_pqal.json) into the project's two shipped files.

1. Decontamination JSONL (text only): each line
   {"pmid": int, "text": question + contexts + long answer, "split": "test" | "train_dev"}.
2. The labelled evaluation set for `benchmark_eval`: each line
   {"pmid", "question", "contexts", "context_labels", "long_answer", "final_decision",
    "split", "year", "meshes"}, final_decision being PubMedQA's expert label yes | no | maybe.

The 500 test PMIDs come from test_ground_truth.json. Usage:

    .venv/bin/python scripts/convert_pubmedqa.py [PUBMEDQA_DIR] [DECONTAMINATION_JSONL] [LABELLED_JSONL]

Defaults: ../shared/data/benchmarks/pubmedqa, data/decontamination/pubmedqa_pqal.jsonl and
data/benchmarks/pubmedqa_pqal_labelled.jsonl. The MIT licence of PubMedQA is copied beside each.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "benchmarks" / "pubmedqa"
DEFAULT_OUTPUT = REPO_ROOT / "data" / "decontamination" / "pubmedqa_pqal.jsonl"
DEFAULT_LABELLED = REPO_ROOT / "data" / "benchmarks" / "pubmedqa_pqal_labelled.jsonl"


def item_text(item: dict) -> str:
    """Question, contexts and long answer, one per line."""
    parts = [item["QUESTION"], *item["CONTEXTS"], item["LONG_ANSWER"]]
    return "\n".join(part.strip() for part in parts if part and part.strip())


def labelled_item(pmid: str, item: dict, split: str) -> dict:
    """One labelled PQA-L item in the layout mkailin_assets.evaluation.pubmedqa reads."""
    return {
        "pmid": int(pmid),
        "question": item["QUESTION"].strip(),
        "contexts": [c.strip() for c in item["CONTEXTS"]],
        "context_labels": list(item.get("LABELS") or []),
        "long_answer": (item.get("LONG_ANSWER") or "").strip(),
        "final_decision": item["final_decision"],
        "split": split,
        "year": item.get("YEAR"),
        "meshes": list(item.get("MESHES") or []),
    }


def _read(source_dir: Path) -> tuple[dict, set[str]]:
    items = json.loads((source_dir / "ori_pqal.json").read_text(encoding="utf-8"))
    test_pmids = set(
        json.loads((source_dir / "test_ground_truth.json").read_text(encoding="utf-8"))
    )
    return items, test_pmids


def _write_lines(lines: list[dict], output: Path, licence: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as out:
        for line in lines:
            # ASCII escapes keep U+2028 and friends from splitting a line in naive readers.
            out.write(json.dumps(line) + "\n")
    shutil.copyfile(licence, output.parent / "LICENSE")


def convert(source_dir: Path, output: Path, labelled: Path | None = None) -> int:
    items, test_pmids = _read(source_dir)
    licence = source_dir / "LICENSE"
    splits = {p: ("test" if p in test_pmids else "train_dev") for p in items}
    ordered = sorted(items, key=int)
    text_lines = [
        {"pmid": int(p), "text": item_text(items[p]), "split": splits[p]} for p in ordered
    ]
    _write_lines(text_lines, output, licence)
    if labelled is not None:
        _write_lines([labelled_item(p, items[p], splits[p]) for p in ordered], labelled, licence)
    return len(items)


def main(argv: list[str]) -> None:
    source_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    labelled = Path(argv[3]) if len(argv) > 3 else DEFAULT_LABELLED
    count = convert(source_dir, output, labelled)
    print(f"wrote {count} items to {output} and {labelled}")


if __name__ == "__main__":
    main(sys.argv)
