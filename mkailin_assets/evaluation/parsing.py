"""yes / no / maybe from what models really write.

Tried in order, the first that gives a label wins:
1. JSON (bare, fenced or embedded): a key such as answer / final_decision / label / decision.
2. An explicit marker, the last one in the text: "Answer: Yes.", "Final answer: **no**",
   "the answer is maybe", "Decision - uncertain" (not "Conclusion:", which opens prose).
3. A refusal ("I cannot provide medical advice", "As an AI ...") gives no label.
4. The first word ("Yes, because ...", "**No.**") or a last line that is only a label.
Anything else is unparseable: it gets no label and is scored as a wrong answer, never dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Words models use for the three labels (only read where a label is expected).
_SYNONYMS = {
    "yes": "yes",
    "true": "yes",
    "no": "no",
    "false": "no",
    "maybe": "maybe",
    "uncertain": "maybe",
    "unclear": "maybe",
    "possibly": "maybe",
    "inconclusive": "maybe",
    "unknown": "maybe",
}
_WORD = "|".join(sorted(_SYNONYMS, key=len, reverse=True))
_JSON_KEYS = ("answer", "final_decision", "final_answer", "label", "decision", "prediction")
_MARKER = re.compile(
    r"(?:final\s+answer|final\s+decision|answer|decision|verdict)"
    rf"(?:\s+is)?\s*[:\-=]?\s*[*_`\"'(\[]*\s*({_WORD})\b",
    re.IGNORECASE,
)
_LEADING = re.compile(rf"^[\s*_`\"'#>(\[]*({_WORD})\b[\s*_`\"')\].,!:;-]*", re.IGNORECASE)
_LAST_LINE = re.compile(rf"^[\s*_`\"'#>(\[]*({_WORD})[\s*_`\"')\].,!]*$", re.IGNORECASE)
_REFUSAL = re.compile(
    r"\b(?:I\s*(?:'m| am)\s+(?:sorry|unable|not able)|I\s+(?:can(?:'|no)t|cannot|won't)"
    r"|as an ai\b|not (?:able|qualified) to (?:provide|give|answer)|consult (?:a|your)"
    r" (?:doctor|physician|healthcare))",
    re.IGNORECASE,
)
_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    label: str | None  # yes | no | maybe, or None when unparseable
    how: str  # json | marker | leading | last_line | refusal | unparseable | empty


def _word(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    match = re.match(rf"\W*({_WORD})\b", value.strip(), re.IGNORECASE)
    return _SYNONYMS[match.group(1).lower()] if match else None


def _from_json(text: str) -> str | None:
    candidates = [text.strip()] + _JSON_OBJECT.findall(text)
    for candidate in candidates:
        candidate = re.sub(r"^```(?:json)?|```$", "", candidate.strip()).strip()
        try:
            data = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(data, dict):
            lowered = {str(k).lower(): v for k, v in data.items()}
            for key in _JSON_KEYS:
                label = _word(lowered.get(key))
                if label:
                    return label
    return None


def parse_answer(text: str | None) -> ParsedAnswer:
    if text is None or not text.strip():
        return ParsedAnswer(None, "empty")
    label = _from_json(text)
    if label:
        return ParsedAnswer(label, "json")
    markers = _MARKER.findall(text)
    if markers:
        return ParsedAnswer(_SYNONYMS[markers[-1].lower()], "marker")
    if _REFUSAL.search(text):
        return ParsedAnswer(None, "refusal")
    leading = _LEADING.match(text)
    if leading:
        return ParsedAnswer(_SYNONYMS[leading.group(1).lower()], "leading")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = _LAST_LINE.match(lines[-1]) if lines else None
    if last:
        return ParsedAnswer(_SYNONYMS[last.group(1).lower()], "last_line")
    return ParsedAnswer(None, "unparseable")
