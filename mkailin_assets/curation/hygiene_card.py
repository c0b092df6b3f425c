"""The dataset card's section on benchmark twins and held-out splits (kept apart from the rest
of the card, curation/export.py, which only places it)."""

from __future__ import annotations

from typing import Any

SPLIT_RULE = (
    "Splits are assigned by a hash of the source PMID, and every citation has a split by the "
    "same hash whether or not it is a source: a record's contexts are retrieved only from "
    "citations of its own split. So no validation or test source is ever a context of a train "
    "record (a model trained on `train` never reads the abstracts the held-out questions ask "
    "about), and no train abstract is a context of a held-out record; training_set's blocking "
    "check `no_context_from_another_split` enforces it."
)
# benchmarks/split_contexts.py on the bundled 2020 baseline file (docs/method.md).
SPLIT_COST = (
    "Measured on the 2020 baseline file (pubmed20n0014, 1,000 sources, BM25 top 4): the rule "
    "changed the contexts of {changed} of train candidates and moved their mean MeSH score by "
    "{shift}."
)
SPLIT_FIGURES = {"changed": "31.4%", "shift": "-0.005 (0.588 to 0.584; held-out candidates -0.091)"}


def hygiene_section(facts: dict[str, Any] | None) -> str:
    facts = facts or {}
    twins = facts.get("twins") or {}
    found = sum(twins.values())
    per_benchmark = ", ".join(f"{name}: {n}" for name, n in sorted(twins.items()))
    twin_text = (
        "Benchmark twins are citations carrying a benchmark item's text under another PMID "
        "(duplicate publications, republished trials, errata), found as release files load "
        "with the decontamination rule (a shared 13-word n-gram over title and abstract). They "
        "are treated as the benchmark's own PMIDs: never a source, never a retrieved context, "
        "never named in any field of a record. "
        + (
            f"Twins found in the corpus: {found} ({per_benchmark})."
            if found
            else "Twins found in the corpus: none."
        )
    )
    return twin_text + "\n\n" + SPLIT_RULE + " " + SPLIT_COST.format(**SPLIT_FIGURES)
