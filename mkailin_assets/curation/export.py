"""Export the training set as Parquet + JSONL per kind and split, with a dataset card.

Layout under the export folder (TRL / datasets read these as they are):
    sft/{split}.parquet|jsonl        messages (chat), question, contexts, answer, final_decision
    dpo/{split}.parquet|jsonl        prompt, chosen, rejected, margin, label_source
    evaluator/{split}.parquet|jsonl  prompt, chosen, rejected, margin, label_source
    pretrain/{split}.parquet|jsonl   text (also pretrain/{split}.txt, one line per record)
    README.md                        the dataset card; manifest.json: counts and files
Every row also carries record_id, category, source_pmid and provenance (JSON text). The folder
is written beside the target and renamed into place, so readers never see half an export.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from mkailin_assets.curation.freshness import freshness_section
from mkailin_assets.curation.hygiene_card import hygiene_section

_CONTEXT = pl.Struct({"pmid": pl.Int64, "title": pl.String, "text": pl.String})
_MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})
_PAIRWISE = {
    "prompt": pl.String,
    "chosen": pl.String,
    "rejected": pl.String,
    "margin": pl.Float64,
    "label_source": pl.String,
}
RECORD_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "sft": {
        "messages": pl.List(_MESSAGE),
        "question": pl.String,
        "contexts": pl.List(_CONTEXT),
        "answer": pl.String,
        "final_decision": pl.String,
    },
    "dpo": {
        **_PAIRWISE,
        "chosen_context_pmids": pl.List(pl.Int64),
        "rejected_context_pmids": pl.List(pl.Int64),
    },
    "evaluator": dict(_PAIRWISE),
    "pretrain": {"text": pl.String},
}
_COMMON = {"record_id": pl.String, "category": pl.String, "source_pmid": pl.Int64}
SPLIT_ORDER = ["train", "validation", "test"]

PUBMED_LICENCE_NOTE = (
    "Source abstracts, titles and MeSH come from PubMed/MEDLINE, courtesy of the U.S. National "
    "Library of Medicine (NLM), under NLM's terms and conditions "
    "(https://www.nlm.nih.gov/databases/download/terms_and_conditions.html). NLM does not "
    "endorse this dataset. Abstracts may be under the copyright of their publishers or "
    "authors: check the terms before redistributing the contexts. The generated questions and "
    "answers are model outputs; see the Models section above and their licences."
)


OFFLINE_MODEL_PREFIX = "offline-"  # the offline backend's model names (offline-extractive, ...)
OFFLINE_WARNING = (
    "> **Not training data.** Some or all records were made by mkailin's offline backend "
    "(model `offline-extractive`): questions from the abstract's own sentences, answers copied "
    "from its conclusion sentences, decisions from cue words. It exists to run the pipeline "
    "without a model; do not train on these records. Make them with a real model instead "
    "(README: `MKAILIN_LLM_BACKEND`)."
)
BENCHMARK_HEADING = "## Benchmark results"


# Shown wherever records are counted (card, manifest, demo summary), so the counts agree.
MULTI_CATEGORY_RULE = (
    "A record whose source abstract belongs to several MeSH categories is exported once, under "
    "the alphabetically first of them (its provenance lists them all); question twins across "
    "categories are removed at export. Per-category figures in the database (the demo summary, "
    "training_set) count such a record in every category it belongs to."
)


def category_membership(training: pl.DataFrame) -> dict[str, int]:
    """Exported records per category they belong to (a record counts in each of its categories)."""
    counts: dict[str, int] = {}
    for provenance, category in training.select("provenance", "category").iter_rows():
        categories = json.loads(provenance or "{}").get("categories") or [category]
        for member in categories:
            counts[member] = counts.get(member, 0) + 1
    return dict(sorted(counts.items()))


@dataclass
class ExportReport:
    out_dir: Path
    counts: dict[str, dict[str, int]]  # kind -> split -> records
    files: list[str] = field(default_factory=list)  # paths relative to out_dir

    @property
    def card_path(self) -> Path:
        return self.out_dir / "README.md"


def _kind_frame(rows: pl.DataFrame, kind: str) -> pl.DataFrame:
    """The records of one kind and split as typed columns (record fields + common fields)."""
    schema = {**RECORD_SCHEMAS[kind], **_COMMON, "provenance": pl.String}
    records = []
    for row in rows.iter_rows(named=True):
        record = json.loads(row["record"])
        values = {name: record.get(name) for name in RECORD_SCHEMAS[kind]}
        values.update({name: row[name] for name in _COMMON})
        values["provenance"] = row["provenance"]
        records.append(values)
    return pl.DataFrame(records, schema=schema)


def _write_split(frame: pl.DataFrame, kind: str, split: str, root: Path) -> list[str]:
    folder = root / kind
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / f"{split}.parquet")
    frame.write_ndjson(folder / f"{split}.jsonl")
    written = [f"{kind}/{split}.parquet", f"{kind}/{split}.jsonl"]
    if kind == "pretrain":
        lines = "".join(text + "\n" for text in frame["text"].to_list())
        (folder / f"{split}.txt").write_text(lines, encoding="utf-8")
        written.append(f"{kind}/{split}.txt")
    return written


def _ordered_splits(splits: list[str]) -> list[str]:
    return sorted(splits, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else 99, s))


def _same_files(staging: Path, target: Path) -> bool:
    """Whether the staged export holds exactly the target's files, byte for byte."""
    if not target.is_dir():
        return False

    def listing(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    names = listing(staging)
    if names != listing(target):
        return False
    return all((staging / n).read_bytes() == (target / n).read_bytes() for n in names)


def _replace_dir(staging: Path, target: Path) -> None:
    """Swap the staged folder into place; the old export is removed only after the swap.
    An export identical to the one in place is not swapped: its files keep their times."""
    if _same_files(staging, target):
        shutil.rmtree(staging)
        return
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
    if target.exists():
        os.rename(target, retired)
    os.rename(staging, target)
    if retired.exists():
        shutil.rmtree(retired)


def export_training_set(
    training: pl.DataFrame,
    filtered: pl.DataFrame,
    out_dir: str | Path,
    meta: dict[str, Any],
) -> ExportReport:
    """Write every kind and split (Parquet + JSONL), the dataset card and a manifest.

    `training`: training_set rows (category, record_id, kind, split, source_pmid, record JSON,
    provenance JSON, ...). `filtered`: training_filtered rows (category, record_id, kind,
    filter, reason, twin_id). `meta`: name, models, prompts, filters (config), mesh_coverage,
    and anything else worth a line in the card.
    """
    meta = publishable(meta)
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    counts: dict[str, dict[str, int]] = {}
    files: list[str] = []
    try:
        for kind in sorted(training["kind"].unique().to_list()):
            if kind not in RECORD_SCHEMAS:
                raise ValueError(f"unknown training record kind: {kind!r}")
            of_kind = training.filter(pl.col("kind") == kind)
            counts[kind] = {}
            for split in _ordered_splits(of_kind["split"].unique().to_list()):
                rows = of_kind.filter(pl.col("split") == split).sort("record_id")
                files += _write_split(_kind_frame(rows, kind), kind, split, staging)
                counts[kind][split] = rows.height
        card = dataset_card(training, filtered, counts, meta)
        (staging / "README.md").write_text(card, encoding="utf-8")
        manifest = {
            "records": training.height,
            "counts": counts,
            "by_category": (
                dict(training.group_by("category").len().sort("category").iter_rows())
                if training.height
                else {}
            ),
            "by_category_membership": category_membership(training) if training.height else {},
            "rule": MULTI_CATEGORY_RULE,
            "files": files,
            "meta": meta,
        }
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, default=str), encoding="utf-8"
        )
        files += ["README.md", "manifest.json"]
        _replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportReport(out_dir=target, counts=counts, files=files)


def publishable(value: Any) -> Any:
    """The card's and manifest's facts without local paths: an absolute path becomes its file
    name (the folder is this machine's, and says nothing to a reader elsewhere)."""
    if isinstance(value, dict):
        return {key: publishable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [publishable(item) for item in value]
    if isinstance(value, Path) or (isinstance(value, str) and os.path.isabs(value)):
        return Path(value).name
    return value


def made_offline(meta: dict[str, Any]) -> bool:
    """Whether any record comes from the offline backend (its model names, per role)."""
    models = ", ".join(str(m) for m in (meta.get("models") or {}).values())
    return any(m.strip().startswith(OFFLINE_MODEL_PREFIX) for m in models.split(","))


# --- dataset card ---------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _front_matter(counts: dict[str, dict[str, int]], name: str) -> str:
    configs = "configs:" if counts else "configs: []"
    lines = ["---", f"pretty_name: {json.dumps(name)}", "license: other", configs]
    for kind, splits in counts.items():
        lines.append(f"- config_name: {kind}")
        lines.append("  data_files:")
        for split in splits:
            lines += [f"  - split: {split}", f"    path: {kind}/{split}.parquet"]
    lines.append("---")
    return "\n".join(lines)


def _counts_section(training: pl.DataFrame) -> str:
    if training.is_empty():
        return "No records."
    pivot = training.group_by("kind", "category", "split").len()
    splits = _ordered_splits(pivot["split"].unique().to_list())
    rows = []
    for (kind, category), group in pivot.sort("kind", "category").group_by(
        "kind", "category", maintain_order=True
    ):
        per_split = dict(zip(group["split"], group["len"], strict=True))
        rows.append([kind, category, *[per_split.get(s, 0) for s in splits], group["len"].sum()])
    return _table(["kind", "category", *splits, "total"], rows)


def _filters_section(filtered: pl.DataFrame, config: Any) -> str:
    parts = []
    if filtered.is_empty():
        parts.append("No record was removed by a filter.")
    else:
        removed = filtered.group_by("filter", "kind").len().sort("filter", "kind")
        parts.append(_table(["filter", "kind", "records removed"], removed.rows()))
    if config:
        parts.append(
            "Configuration:\n\n```json\n" + json.dumps(config, indent=2, default=str) + "\n```"
        )
    return "\n\n".join(parts)


def _mapping_section(value: Any, empty: str) -> str:
    if not value:
        return empty
    if isinstance(value, dict):
        return _table(
            ["", ""],
            [
                [k, json.dumps(v, default=str) if isinstance(v, dict | list) else v]
                for k, v in value.items()
            ],
        )
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        header = list(dict.fromkeys(k for v in value for k in v))
        return _table(header, [[v.get(k) for k in header] for v in value])
    return str(value)


def _prompts_section(prompts: dict[str, str] | None) -> str:
    """Each agent role and the version of its prompt."""
    if not prompts:
        return "Not recorded."
    return _table(["agent role", "prompt version"], [[r, v] for r, v in prompts.items()])


def with_benchmark_section(card: str, rows: list[dict[str, Any]] | None) -> str:
    """The card with its benchmark section replaced (benchmark_eval keeps it current)."""
    head, found, rest = card.partition(f"{BENCHMARK_HEADING}\n\n")
    if not found:
        return card
    _, next_heading, tail = rest.partition("\n\n## ")
    return f"{head}{found}{benchmark_section(rows)}{next_heading}{tail}"


def benchmark_section(rows: list[dict[str, Any]] | None) -> str:
    """The latest PubMedQA / PubMedQA* figures per model (the benchmark_latest view's rows)."""
    if not rows:
        return "No model evaluated yet (materialize `benchmark_eval`)."
    header = ["model", "benchmark", "setting", "split", "n", "accuracy %", "95% CI", "macro-F1 %"]
    table = [
        [
            r["model"],
            r["benchmark"],
            r["setting"],
            r["split"],
            r["n"],
            r["accuracy_pct"],
            f"{r['ci_low_pct']}–{r['ci_high_pct']}",
            r["macro_f1_pct"],
        ]
        for r in rows
    ]
    return (
        _table(header, table)
        + "\n\nMajority class on PQA-L's test split: 55.2%. Published (PubMedQA, reasoning-"
        "required, test): GPT-4 + MedPrompt 82.0, Med-PaLM 2 81.8. The `offline` model is a "
        "deterministic rule, not a model."
    )


def dataset_card(
    training: pl.DataFrame,
    filtered: pl.DataFrame,
    counts: dict[str, dict[str, int]],
    meta: dict[str, Any],
) -> str:
    """The README.md of an export (Hugging Face dataset card with configs per kind)."""
    name = meta.get("name", "mkailin training set")
    sections = [
        _front_matter(counts, name),
        f"# {name}",
        *([OFFLINE_WARNING] if made_offline(meta) else []),
        "Question–context–answer training data distilled from PubMed abstracts by mkailin "
        "(the m-KAILIN method, arXiv 2504.19565): SFT records (chat `messages`), DPO pairs for "
        "the question generator (`prompt`/`chosen`/`rejected`), pairwise evaluator records "
        "and pre-training text. Every record carries its provenance (PMIDs, MeSH descriptors "
        "and tree numbers, agent, model, prompt version, LLM call ids, scores). Splits are "
        "assigned by source PMID: no PMID is in two splits.",
        "## Records per kind, category and split\n\n"
        + MULTI_CATEGORY_RULE
        + "\n\n"
        + _counts_section(training)
        + "\n\nRecords per category they belong to: "
        + (json.dumps(category_membership(training)) if training.height else "none"),
        "## MeSH coverage\n\n"
        + _mapping_section(meta.get("mesh_coverage"), "Not computed for this export."),
        "## Filters\n\n" + _filters_section(filtered, meta.get("filters")),
        "## Models\n\n" + _mapping_section(meta.get("models"), "Not recorded."),
        "## Prompts\n\n" + _prompts_section(meta.get("prompts")),
        f"{BENCHMARK_HEADING}\n\n" + benchmark_section(meta.get("benchmark")),
        "## Benchmark twins and held-out splits\n\n" + hygiene_section(meta.get("hygiene")),
        "## Freshness per category\n\n" + freshness_section(meta.get("freshness")),
        "## Loading\n\n```python\nfrom datasets import load_dataset\n"
        'sft = load_dataset("parquet", data_files={"train": "sft/train.parquet"})\n```',
        "## Licence\n\n" + PUBMED_LICENCE_NOTE,
    ]
    return "\n\n".join(sections) + "\n"
