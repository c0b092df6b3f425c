"""Convert PubMedQA's PQA-L (ori_pqal.json) into the project's decontamination JSONL.

Each line: {"pmid": int, "text": question + contexts + long answer, "split": "test" | "train_dev"}
(the 500 test PMIDs come from test_ground_truth.json). Usage:

    .venv/bin/python scripts/convert_pubmedqa.py [PUBMEDQA_DIR] [OUTPUT_JSONL]

Defaults: ../shared/data/benchmarks/pubmedqa and data/decontamination/pubmedqa_pqal.jsonl.
The MIT licence of PubMedQA is copied beside the output.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "benchmarks" / "pubmedqa"
DEFAULT_OUTPUT = REPO_ROOT / "data" / "decontamination" / "pubmedqa_pqal.jsonl"


def item_text(item: dict) -> str:
    """Question, contexts and long answer, one per line."""
    parts = [item["QUESTION"], *item["CONTEXTS"], item["LONG_ANSWER"]]
    return "\n".join(part.strip() for part in parts if part and part.strip())


def convert(source_dir: Path, output: Path) -> int:
    items = json.loads((source_dir / "ori_pqal.json").read_text(encoding="utf-8"))
    test_pmids = set(
        json.loads((source_dir / "test_ground_truth.json").read_text(encoding="utf-8"))
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as out:
        for pmid in sorted(items, key=int):
            split = "test" if pmid in test_pmids else "train_dev"
            line = {"pmid": int(pmid), "text": item_text(items[pmid]), "split": split}
            # ASCII escapes keep U+2028 and friends from splitting a line in naive readers.
            out.write(json.dumps(line) + "\n")
    shutil.copyfile(source_dir / "LICENSE", output.parent / "LICENSE")
    return len(items)


def main(argv: list[str]) -> None:
    source_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    count = convert(source_dir, output)
    print(f"wrote {count} items to {output}")


if __name__ == "__main__":
    main(sys.argv)
