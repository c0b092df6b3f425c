"""Held-out splits in an export: for every record of every kind and split file, the PMIDs its
contexts name (record contexts, a DPO pair's chosen and rejected contexts, the provenance's
context PMIDs) are checked against the split each PMID hashes to, and against the sources of the
other splits. Prints the counts and ends with one JSON line; exits 1 on a violation.

    .venv/bin/python benchmarks/export_contexts_check.py EXPORT_DIR [--split-ratios JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from mkailin_assets.curation.splits import DEFAULT_RATIOS, SplitRule  # noqa: E402
from mkailin_assets.evaluation.hygiene import pmids_in  # noqa: E402


def context_pmids(row: dict) -> set[int]:
    found = set()
    for column, value in row.items():
        if column == "provenance":
            value = json.loads(value or "{}")
        for where, pmid in pmids_in({column: value}):
            if "context" in where and "(text)" not in where:
                found.add(int(pmid))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--split-ratios", default=json.dumps(DEFAULT_RATIOS))
    args = parser.parse_args()
    rule = SplitRule(json.loads(args.split_ratios))
    records = []
    for path in sorted(args.export_dir.glob("*/*.parquet")):
        split = path.stem
        for row in pl.read_parquet(path).iter_rows(named=True):
            records.append((path.parent.name, split, int(row["source_pmid"]), context_pmids(row)))
    if not records:
        raise SystemExit(f"no export files (<kind>/<split>.parquet) under {args.export_dir}")
    sources = {split: {s for _, sp, s, _ in records if sp == split} for _, split, _, _ in records}
    by_hash = 0
    of_other_split = 0
    examples = []
    for kind, split, source, contexts in records:
        if not contexts:
            continue
        hashed = dict(
            zip(sorted(contexts), rule.splits_of(sorted(contexts)).to_list(), strict=True)
        )
        wrong = {p for p, s in hashed.items() if s != split}
        other = {p for p in contexts for o, pmids in sources.items() if o != split and p in pmids}
        by_hash += bool(wrong)
        of_other_split += bool(other)
        if (wrong or other) and len(examples) < 5:
            examples.append(
                {"kind": kind, "split": split, "source": source, "pmids": sorted(wrong | other)}
            )
    with_contexts = sum(1 for r in records if r[3])
    print(f"{len(records)} records ({with_contexts} with contexts) in {args.export_dir}")
    print(f"records with a context of another split's hash: {by_hash}")
    print(f"records with a context that is a source of another split: {of_other_split}")
    print(json.dumps({"check": "export_contexts", "records": len(records),
                      "records_with_contexts": with_contexts, "context_of_other_split": by_hash,
                      "context_is_other_split_source": of_other_split, "examples": examples}))  # fmt: skip
    sys.exit(1 if by_hash or of_other_split else 0)


if __name__ == "__main__":
    main()
