"""The offline model's answer: a deterministic rule over the text it is given, no model.

It reads the last context (in PubMedQA, the results section; for PubMedQA*, the lowest-ranked
retrieved abstract is as good as any) or, with no context, the question: negation cues make it
"no", hedging cues "maybe", anything else "yes" (PubMedQA's majority class). It exists so tests
and the demo run the whole evaluation path; its figures say nothing about any model.
"""

from __future__ import annotations

import re
from typing import Any

_NEGATION = re.compile(
    r"\b(?:no|not|neither|nor|without|failed to|did not|does not|was not|were not|"
    r"no significant|unchanged|similar)\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:may|might|could|unclear|uncertain|possibly|further (?:studies|research)|"
    r"remains? to be|trend)\b",
    re.IGNORECASE,
)


def offline_answer(inputs: dict[str, Any]) -> dict[str, str]:
    """inputs: question, contexts (list of texts). Returns {"answer", "reasoning"}."""
    contexts = inputs.get("contexts") or []
    text = contexts[-1] if contexts else inputs.get("question", "")
    negations = len(_NEGATION.findall(text))
    hedges = len(_HEDGE.findall(text))
    if negations >= 2 and negations > hedges:
        label = "no"
    elif hedges >= 2:
        label = "maybe"
    else:
        label = "yes"
    return {
        "answer": label,
        "reasoning": f"offline rule: {negations} negation and {hedges} hedging cue(s)",
    }
