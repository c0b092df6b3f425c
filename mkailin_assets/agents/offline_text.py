"""Deterministic text rules shared by the offline (no model) agent implementations.

In the spirit of PubMedQA's artificial set: statement titles become yes/no questions, stated
objectives become research questions, and conclusions are the extractive answers. Everything here
is pure and rule-based; abstracts are untrusted, so sentences that read like instructions to a
model are never selected as questions or answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Section labels of structured abstracts ("OBJECTIVE:", "MATERIALS AND METHODS:").
_SECTION_LABEL = re.compile(r"(?:^|(?<=[.!?:\n]))\s*([A-Z][A-Z &/,-]{2,60}):(?=\s)")
# A label opening a line, in any case ("Background and aims: ...").
_LINE_LABEL = re.compile(r"^\s*([A-Z][A-Za-z &/,-]{2,60}):\s")
OBJECTIVE_LABELS = ("OBJECTIVE", "OBJECTIVES", "PURPOSE", "AIM", "AIMS", "GOAL", "GOALS")
CONCLUSION_LABELS = ("CONCLUSION", "CONCLUSIONS", "INTERPRETATION", "IMPLICATIONS")

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "vs.",
    "et al.",
    "Fig.",
    "fig.",
    "approx.",
    "ca.",
    "Dr.",
    "No.",
    "resp.",
    "cf.",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'<])")

# Text that addresses a model instead of describing research (prompt injection).
_INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|prompt|rule|above|previous|prior)"
    r"|\bsystem prompt\b|\byou are (now )?(an?|the) (ai|assistant|model|language model)\b"
    r"|\b(respond|reply|answer|output) (only )?with\b|\bnew instructions?\b"
    r"|\byou are now\b|^\s*(system|assistant|user)\s*:|<<<|>>>",
    re.IGNORECASE,
)


def wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = wordset(
    "a an the of in on at to for with by from and or as is are was were be been being this that "
    "these those it its their our we you not no do does did has have had than then there which "
    "who whom what when where why how whether if into over under between among during after "
    "before can could may might should will would"
)


@dataclass(frozen=True)
class Section:
    label: str | None
    text: str


def normalise_space(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def looks_like_instruction(text: str) -> bool:
    """True for sentences that address a model ("Ignore previous instructions ...")."""
    return bool(_INSTRUCTION_LIKE.search(text or ""))


def split_sections(abstract: str) -> list[Section]:
    """Structured abstracts into labelled sections (labels upper-cased).

    Two layouts: one section per line as our ingest writes them ("Objective: ..." — any case),
    and labels inline after a sentence end ("... OBJECTIVE: ... METHODS: ..." — upper case).
    """
    sections: list[Section] = []
    for line in (abstract or "").splitlines():
        label = None
        match = _LINE_LABEL.match(line)
        if match and len(match.group(1).split()) <= 6:
            label, line = match.group(1).strip().upper(), line[match.end() :]
        sections.extend(_inline_sections(line, label))
    return sections


def _inline_sections(text: str, first_label: str | None) -> list[Section]:
    matches = list(_SECTION_LABEL.finditer(text))
    lead = normalise_space(text[: matches[0].start()] if matches else text)
    sections = [Section(first_label, lead)] if lead else []
    followers = [*matches[1:], None] if matches else []
    for match, following in zip(matches, followers, strict=True):
        end = following.start() if following else len(text)
        body = normalise_space(text[match.end() : end])
        if body:
            sections.append(Section(match.group(1).strip().upper(), body))
    return sections


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, keeping common abbreviations ("e.g.", "et al.") intact."""
    text = normalise_space(text)
    if not text:
        return []
    protected = text
    for i, abbreviation in enumerate(_ABBREVIATIONS):
        protected = protected.replace(abbreviation, abbreviation.replace(".", f"\x00{i}\x00"))
    sentences = []
    for piece in _SENTENCE_END.split(protected):
        for i in range(len(_ABBREVIATIONS)):
            piece = piece.replace(f"\x00{i}\x00", ".")
        if piece.strip():
            sentences.append(piece.strip())
    return sentences


def content_words(text: str) -> set[str]:
    """Lower-cased content words, with a light plural strip so 'cells' meets 'cell'."""
    words = set()
    for word in _WORD.findall((text or "").lower()):
        if word in _STOPWORDS or len(word) < 2:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return words


def word_overlap(a: str, b: str) -> int:
    return len(content_words(a) & content_words(b))


# --- statements into questions ---------------------------------------------------------------

_AUXILIARIES = wordset(
    "is are was were can could may might should will would does do did has have had must"
)
# Words that open a yes/no question ("Does X affect Y?").
YES_NO_OPENERS = wordset(
    "is are was were am do does did can could may might must should shall will would has have had"
)
# Verbs that headline-style biomedical titles use; inflections are derived below.
_VERB_BASES = wordset(
    "reduce increase improve predict induce inhibit promote regulate mediate modulate enhance "
    "prevent cause affect alter impair attenuate suppress activate decrease protect contribute "
    "correlate determine influence trigger block limit lower raise confer drive control "
    "facilitate accelerate delay restore rescue reverse exacerbate worsen ameliorate alleviate "
    "protect require target disrupt stimulate repress encode bind interact reveal identify "
    "underlie lead link shape sustain support abolish prolong shorten modify mitigate "
    "predispose elevate boost impact characterize define explain"
)
# Verbs that are also common nouns ("control", "increase in"): never read in their base form,
# and not when a preposition follows ("increases in ...").
_NOUN_LIKE_VERBS = wordset(
    "increase decrease control block limit lower raise target link shape support lead impact "
    "delay drive trigger boost rescue reverse restore cause influence"
)
_NOT_AFTER_NOUN_LIKE = wordset("in of and or for")
_NOT_AFTER = wordset(
    "a an the of in on at to for with by from and or as than versus vs after before during via "
    "who which that whose"
)
_IRREGULAR_PLURALS = wordset(
    "mice children women men people bacteria mitochondria data fungi teeth"
)


def _looks_plural(word: str) -> bool:
    """A plural subject head ('statins', 'MSCs', 'mice'), not 'anaplasmosis' or 'virus'."""
    word = word.lower().strip(",")
    if word in _IRREGULAR_PLURALS:
        return True
    return word.endswith("s") and not word.endswith(("ss", "us", "is", "sis", "ics"))


def _inflections(base: str) -> dict[str, tuple[str, str]]:
    """Map inflected forms of a verb to (base, tense): 'present3', 'present', 'past'."""
    if base.endswith("y") and base[-2] not in "aeiou":
        third, past = base[:-1] + "ies", base[:-1] + "ied"
    elif base.endswith(("s", "sh", "ch", "x", "z")):
        third, past = base + "es", base + "ed"
    elif base.endswith("e"):
        third, past = base + "s", base + "d"
    else:
        third, past = base + "s", base + "ed"
    irregular_past = {"lead": "led", "drive": "drove", "bind": "bound", "underlie": "underlay"}
    past = irregular_past.get(base, past)
    return {third: (base, "present3"), base: (base, "present"), past: (base, "past")}


_VERB_FORMS: dict[str, tuple[str, str]] = {}
for _base in _VERB_BASES:
    _VERB_FORMS.update(_inflections(_base))


def lower_first_word(word: str) -> str:
    """'Aspirin' -> 'aspirin', but acronyms and gene names ('HIV', 'TNF-alpha', 'mTOR') stay."""
    if len(word) > 1 and word[0].isupper() and word[1:].islower():
        return word[0].lower() + word[1:]
    if len(word) == 1 and word.isupper() and word != "I":
        return word.lower()
    return word


def lower_first(phrase: str) -> str:
    """Lower-case the first word of a phrase the way lower_first_word does."""
    first, _, rest = phrase.partition(" ")
    return " ".join(filter(None, [lower_first_word(first), rest]))


def strip_statement(text: str) -> str:
    return normalise_space(text).rstrip(" .;:!").strip()


def statement_to_yes_no(statement: str) -> str | None:
    """'Aspirin reduces X in Y' -> 'Does aspirin reduce X in Y?'; None when no verb is found.

    Copulas and auxiliaries are inverted ('X is associated with Y' -> 'Is X associated with Y?');
    a known main verb gets do-support in its tense. The subject must come before the verb.
    """
    text = strip_statement(statement)
    if not text or text.endswith("?"):
        return text or None
    tokens = text.split(" ")
    for index, token in enumerate(tokens):
        if index == 0:
            continue
        if tokens[index - 1].endswith((":", ";")):
            return None  # the verb must be in the title's first clause
        word = token.lower().strip(",")
        if token.endswith(",") or tokens[index - 1].lower() in _NOT_AFTER:
            continue
        subject = " ".join([lower_first_word(tokens[0]), *tokens[1:index]])
        rest = " ".join(tokens[index + 1 :])
        if word in _AUXILIARIES:
            return _join_question(word.capitalize(), subject, rest)
        form = _VERB_FORMS.get(word)
        if form is None:
            continue
        base, tense = form
        following = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
        if tense == "past" and following == "by":
            continue  # a passive participle ("X induced by Y"), not the main verb
        if tense == "present" and (
            base in _NOUN_LIKE_VERBS or not _looks_plural(tokens[index - 1])
        ):
            continue  # "anaplasmosis control", "cell growth" are noun phrases
        if base in _NOUN_LIKE_VERBS and following in _NOT_AFTER_NOUN_LIKE:
            continue
        auxiliary = {"present3": "Does", "present": "Do", "past": "Did"}[tense]
        return _join_question(auxiliary, subject, " ".join(filter(None, [base, rest])))
    return None


def _join_question(auxiliary: str, subject: str, rest: str) -> str:
    return normalise_space(f"{auxiliary} {subject} {rest}").rstrip(" ,;:") + "?"


def ensure_question(text: str) -> str:
    text = normalise_space(text).rstrip(" .;:!,")
    return text if text.endswith("?") else text + "?"


_OBJECTIVE_PATTERNS = (
    # "The aim of this study was to determine whether ...", "Our objective was to ..."
    re.compile(
        r"\b(?:aims?|objectives?|purposes?|goals?)\b[^.]{0,60}?\b(?:was|were|is|are)\s+to\s+(.+)",
        re.IGNORECASE,
    ),
    # "This study was designed/undertaken/conducted to ..."
    re.compile(
        r"\b(?:study|trial|work|analysis|review)\s+(?:was|is)\s+(?:designed|undertaken|"
        r"conducted|performed|carried out)\s+to\s+(.+)",
        re.IGNORECASE,
    ),
    # "We sought/aimed/set out to ...", "We investigated whether ..."
    re.compile(
        r"\bwe\s+(?:sought|aimed|set out|wanted|attempted|tried)\s+to\s+(.+)", re.IGNORECASE
    ),
    re.compile(
        r"\bwe\s+((?:investigated|examined|evaluated|assessed|determined|tested|explored|"
        r"studied|asked)\s+.+)",
        re.IGNORECASE,
    ),
    # A sentence opening with "To determine whether ...".
    re.compile(r"^to\s+(.+)", re.IGNORECASE),
)
_OBJECTIVE_VERB = re.compile(
    r"^(?:determine|investigate|assess|evaluate|examine|explore|test|study|compare|identify|"
    r"characteri[sz]e|clarify|elucidate|describe|analy[sz]e|establish|estimate|measure|"
    r"quantify|ascertain|understand|define|investigated|examined|evaluated|assessed|"
    r"determined|tested|explored|studied|asked|report|review|develop|validate)\b\s*",
    re.IGNORECASE,
)
_WH_WORDS = ("how", "why", "what", "which", "when", "where", "who")


@dataclass(frozen=True)
class Objective:
    kind: str  # "whether" (a clause to test), "wh" (how/why/... clause), "topic" (noun phrase)
    verb: str
    text: str
    wh: str | None = None


def objective_sentences(abstract: str) -> list[str]:
    """Sentences of the OBJECTIVE/PURPOSE/AIMS sections, else every sentence, in order."""
    sections = split_sections(abstract)
    labelled = [s for s in sections if s.label and s.label.split(" ")[0] in OBJECTIVE_LABELS]
    chosen = labelled or sections
    return [
        sentence
        for section in chosen
        for sentence in split_sentences(section.text)
        if not looks_like_instruction(sentence)
    ]


def find_objective(abstract: str) -> Objective | None:
    """The study's stated objective, parsed into what it asks; None when none is stated."""
    sections = split_sections(abstract)
    has_objective_section = any(
        s.label and s.label.split(" ")[0] in OBJECTIVE_LABELS for s in sections
    )
    for sentence in objective_sentences(abstract):
        for pattern in _OBJECTIVE_PATTERNS:
            match = pattern.search(sentence)
            if match:
                parsed = _parse_objective(match.group(1))
                if parsed:
                    return parsed
        if has_objective_section:
            # An OBJECTIVE section without "to ..." is itself the topic ("Effects of X on Y.").
            return Objective("topic", "", strip_statement(sentence))
    return None


def _parse_objective(clause: str) -> Objective | None:
    clause = strip_statement(clause)
    verb_match = _OBJECTIVE_VERB.match(clause)
    if not verb_match:
        return None
    verb = verb_match.group(0).strip().lower()
    rest = clause[verb_match.end() :]
    # "determine the effect of X on Y and whether ..." -> keep the first question.
    lowered = rest.lower()
    for connective in ("whether ", "if "):
        if lowered.startswith(connective):
            return Objective("whether", verb, rest[len(connective) :])
    first = lowered.split(" ", 1)[0]
    if first in _WH_WORDS:
        return Objective("wh", verb, rest.split(" ", 1)[1] if " " in rest else "", wh=first)
    return Objective("topic", verb, rest) if rest else None


def wh_question(wh: str, clause: str) -> str:
    """'how', 'glucose regulates insulin' -> 'How does glucose regulate insulin?'."""
    clause = strip_statement(clause)
    inverted = statement_to_yes_no(clause)
    if inverted:
        return ensure_question(f"{wh.capitalize()} {lower_first(inverted)}")
    return ensure_question(f"{wh.capitalize()} {clause}")


_TRANSLATION_NOTE = re.compile(r"\(author'?s transl\)", re.IGNORECASE)


def clean_title(title: str) -> str:
    """Without MEDLINE's brackets around translated titles and '(author's transl)'."""
    title = normalise_space(_TRANSLATION_NOTE.sub("", title or ""))
    if title.startswith("[") and "]" in title:
        title = title[1 : title.rindex("]")] + title[title.rindex("]") + 1 :]
    return normalise_space(title)


def title_statement(title: str) -> str:
    """The statement part of a title: its first sentence, without a trailing
    ': a randomized trial' subtitle."""
    sentences = split_sentences(clean_title(title))
    title = strip_statement(sentences[0] if sentences else "")
    head, _, tail = title.partition(": ")
    return head if tail and len(head.split()) >= 3 else title


# --- conclusions -----------------------------------------------------------------------------

_CONCLUSION_OPENERS = re.compile(
    r"^(?:in conclusion|in summary|to conclude|taken together|collectively|overall|"
    r"these (?:results|findings|data|observations) (?:suggest|indicate|show|demonstrate)|"
    r"our (?:results|findings|data) (?:suggest|indicate|show|demonstrate)|"
    r"we conclude)",
    re.IGNORECASE,
)


def conclusion_sentences(abstract: str) -> list[str]:
    """CONCLUSION(S) section; else sentences opening with 'In conclusion', 'These results
    suggest', ...; else the last sentence. Instruction-like sentences are never returned."""
    sections = split_sections(abstract)
    labelled = [s.text for s in sections if s.label and s.label.split(" ")[0] in CONCLUSION_LABELS]
    candidates = [sentence for text in labelled for sentence in split_sentences(text)]
    if not candidates:
        every = [sentence for s in sections for sentence in split_sentences(s.text)]
        candidates = [s for s in every if _CONCLUSION_OPENERS.match(s)]
        if not candidates:
            safe = [s for s in every if not looks_like_instruction(s)]
            candidates = safe[-1:]
    return [s for s in candidates if not looks_like_instruction(s)]
