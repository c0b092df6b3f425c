"""Question generation agents (docs/method.md#question-generation): questions from one abstract.

An agent is (name, style, prompt version, temperature, questions per abstract); the model comes
from the LLM client's per-role settings under role `question:<name>`. Two default agents differ by
prompt (mechanistic how/why vs clinical does-X-affect-Y), so a single model still gives two
distinct agents. Each question is tagged with descriptors of the abstract's own MeSH headings,
validated against the tree (unknown UIs dropped and counted).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from mkailin_assets.agents import offline_text as ot
from mkailin_assets.agents.prompts import (
    QUESTION_STYLES,
    fence,
    instruction_text,
    question_prompt,
)
from mkailin_assets.llm.offline import register_offline
from mkailin_assets.llm.types import LLMRequest, LLMResult

# Constraints a grammar or a validator can hold a small model to: "1", "" or "?" are no questions.
# Anchored and without \S or '.': llama.cpp turns it into a grammar, which knows neither. No
# '"' or backslash: that grammar works on the JSON text, where a quote would end the string and
# let a small model run on inside it until max_tokens.
QUESTION_PATTERN = r'^[^ ?"\\][^"\\\n]{8,}\?$'
_GRAMMAR_UNSAFE = str.maketrans({'"': "'", "\\": "/"})
MIN_QUESTION_CHARS = 12
MeshUI = Annotated[str, Field(pattern=r"^D[0-9]{6,9}$")]


class GeneratedQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=MIN_QUESTION_CHARS, max_length=500, pattern=QUESTION_PATTERN)
    descriptor_uis: list[MeshUI] = Field(max_length=12)


class QuestionSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # At least one: under a grammar a small model otherwise answers {"questions": []}.
    questions: list[GeneratedQuestion] = Field(min_length=1, max_length=3)


@dataclass(frozen=True)
class QuestionAgent:
    name: str
    style: str  # a key of prompts.QUESTION_STYLES
    prompt_version: str
    temperature: float
    questions_per_abstract: int = 1

    @property
    def role(self) -> str:
        return f"question:{self.name}"


DEFAULT_QUESTION_AGENTS: tuple[QuestionAgent, ...] = (
    QuestionAgent("mechanistic", "mechanistic", question_prompt("mechanistic").version, 0.7),
    QuestionAgent("clinical", "clinical", question_prompt("clinical").version, 0.7),
)


def question_agents(
    questions_per_agent: int, agents: Sequence[QuestionAgent] = DEFAULT_QUESTION_AGENTS
) -> tuple[QuestionAgent, ...]:
    """The agents, each writing `questions_per_agent` questions per abstract (the method's
    MKAILIN_QUESTIONS_PER_AGENT): one request per (abstract, agent) asks for all of them, so the
    prompt, and with it the cache key, changes with the number."""
    if questions_per_agent < 1:
        raise ValueError(f"questions_per_agent must be at least 1, not {questions_per_agent}")
    return tuple(
        dataclasses.replace(agent, questions_per_abstract=questions_per_agent) for agent in agents
    )


# --- requests --------------------------------------------------------------------------------


def _descriptors(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The abstract's headings as [{ui, name, major}]; all major when majors are not given."""
    uis = list(row.get("descriptor_uis") or [])
    names = list(row.get("descriptor_names") or [])
    names += [""] * (len(uis) - len(names))
    majors = row.get("major_descriptor_uis")
    major_set = set(majors) if majors is not None else set(uis)
    return [
        {"ui": ui, "name": name, "major": ui in major_set}
        for ui, name in zip(uis, names, strict=False)
    ]


def _question_messages(agent: QuestionAgent, inputs: dict[str, Any]) -> list[dict[str, str]]:
    template = question_prompt(agent.style)
    headings = "\n".join(
        f"- {d['ui']}: {d['name']}{' (major topic)' if d['major'] else ''}"
        for d in inputs["descriptors"]
    )
    body = f"Title: {inputs['title'] or ''}\nAbstract: {inputs['abstract'] or ''}"
    user = template.user.format(
        n=agent.questions_per_abstract,
        style_instruction=QUESTION_STYLES[agent.style],
        headings=headings or "(none)",
        abstract_block=fence("ABSTRACT", body),
    )
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user}]


def build_question_requests(
    abstracts: pl.DataFrame, agents: Sequence[QuestionAgent] = DEFAULT_QUESTION_AGENTS
) -> list[LLMRequest]:
    """One request per (abstract, agent), item_id f"{pmid}:{agent.name}".

    `abstracts` has pmid, title, abstract, descriptor_uis, descriptor_names and optionally
    major_descriptor_uis (used to prefer major-topic tags offline).
    """
    requests = []
    for row in abstracts.iter_rows(named=True):
        for agent in agents:
            inputs = {
                "pmid": int(row["pmid"]),
                "title": row.get("title") or "",
                "abstract": row.get("abstract") or "",
                "descriptors": _descriptors(row),
                "style": agent.style,
                "n": agent.questions_per_abstract,
                "temperature": agent.temperature,
            }
            requests.append(
                LLMRequest(
                    role=agent.role,
                    item_id=f"{int(row['pmid'])}:{agent.name}",
                    messages=_question_messages(agent, inputs),
                    response_model=QuestionSet,
                    prompt_version=agent.prompt_version,
                    inputs=inputs,
                )
            )
    return requests


# --- offline implementation ------------------------------------------------------------------

_EFFECT_OF = re.compile(
    r"^(?:the\s+)?(?:effects?|impacts?|influence)\s+of\s+(.+?)\s+on\s+(.+)$", re.IGNORECASE
)
_EFFECT_IN = re.compile(
    r"^(?:the\s+)?(?:effects?|impacts?|influence)\s+of\s+(.+?)\s+in\s+(.+)$", re.IGNORECASE
)
_ROLE_OF = re.compile(r"^(?:the\s+)?(?:role|involvement)\s+of\s+(.+?)\s+in\s+(.+)$", re.IGNORECASE)
_ASSOCIATION = re.compile(
    r"^(?:the\s+)?(?:association|relationship|correlation|link)\s+(?:between|of)\s+(.+?)"
    r"\s+(?:and|with)\s+(.+)$",
    re.IGNORECASE,
)


def _noun_phrase_question(phrase: str, wh: str | None = None) -> str | None:
    """'Effects of exercise on blood pressure' -> 'Does exercise affect blood pressure?', or with
    wh='How' -> 'How does exercise affect blood pressure?'. None for other noun phrases."""
    phrase = ot.strip_statement(phrase)
    question = None
    if match := _EFFECT_OF.match(phrase):
        question = f"Does {ot.lower_first(match[1])} affect {match[2]}"
    elif match := _EFFECT_IN.match(phrase):
        question = f"Does {ot.lower_first(match[1])} have an effect in {match[2]}"
    elif match := _ROLE_OF.match(phrase):
        question = f"Is {ot.lower_first(match[1])} involved in {match[2]}"
    elif match := _ASSOCIATION.match(phrase):
        question = f"Is {ot.lower_first(match[1])} associated with {match[2]}"
    if question is None:
        return None
    return ot.ensure_question(f"{wh} {ot.lower_first(question)}" if wh else question)


def _statement_source(inputs: dict[str, Any]) -> str:
    """The title, or the first safe sentence of the abstract when there is no title."""
    title = ot.clean_title(inputs.get("title") or "")
    if "?" in title:
        title = title[: title.index("?") + 1]  # "How much value is X? A study of ..."
    if title and not ot.looks_like_instruction(title):
        return title
    for sentence in ot.objective_sentences(inputs.get("abstract") or ""):
        return sentence
    return ""


def _mechanistic_candidates(inputs: dict[str, Any]) -> Iterable[str]:
    objective = ot.find_objective(inputs.get("abstract") or "")
    if objective is not None and objective.text:
        if objective.kind == "wh":
            yield ot.wh_question(objective.wh or "how", objective.text)
        elif objective.kind == "whether":
            if ot.statement_to_yes_no(objective.text):
                yield ot.wh_question("how", objective.text)
            yield ot.ensure_question(f"What mechanisms determine whether {objective.text}")
        elif objective.verb.startswith("compar"):
            yield ot.ensure_question(f"How do {ot.lower_first(objective.text)} differ")
        else:
            yield _noun_phrase_question(objective.text, "How") or ot.ensure_question(
                f"What mechanisms underlie {ot.lower_first(objective.text)}"
            )
    source = _statement_source(inputs)
    if not source:
        return
    if source.endswith("?"):
        # A question title: a yes/no one gains a mechanism clause; others are kept as they are.
        first_word = source.split(" ", 1)[0].lower()
        if first_word in ot.YES_NO_OPENERS:
            yield ot.ensure_question(f"{source.rstrip(' ?')}, and by what mechanism")
        else:
            yield ot.ensure_question(source)
        return
    statement = ot.title_statement(source)
    if ot.statement_to_yes_no(statement):
        yield ot.wh_question("how", statement)
    else:
        yield _noun_phrase_question(statement, "How") or ot.ensure_question(
            f"What mechanisms underlie {ot.lower_first(statement)}"
        )


def _clinical_candidates(inputs: dict[str, Any]) -> Iterable[str]:
    source = _statement_source(inputs)
    if source.endswith("?"):
        yield ot.ensure_question(source)
    elif source:
        statement = ot.title_statement(source)
        converted = ot.statement_to_yes_no(statement) or _noun_phrase_question(statement)
        if converted:
            yield converted
    objective = ot.find_objective(inputs.get("abstract") or "")
    if objective is not None and objective.kind == "whether":
        yield ot.statement_to_yes_no(objective.text) or ot.ensure_question(
            f"Does the evidence show that {objective.text}"
        )
    if objective is not None and objective.kind == "topic" and objective.text:
        yield _noun_phrase_question(objective.text) or ot.ensure_question(
            f"What are the clinical outcomes of {ot.lower_first(objective.text)}"
        )
    if source and not source.endswith("?"):
        yield ot.ensure_question(
            f"What are the clinical outcomes of {ot.lower_first(ot.title_statement(source))}"
        )


def _fallback_candidates(inputs: dict[str, Any]) -> Iterable[str]:
    """Asked after the style's own questions, so more questions per abstract
    (MKAILIN_QUESTIONS_PER_AGENT > 1) can be met when the text offers only one."""
    source = _statement_source(inputs)
    if not source:
        return
    topic = ot.lower_first(ot.title_statement(source.rstrip(" ?")))
    if inputs.get("style") == "mechanistic":
        yield ot.ensure_question(f"What mechanisms explain the findings on {topic}")
    else:
        yield ot.ensure_question(f"What are the clinical implications of {topic}")


def _tag_descriptors(question: str, inputs: dict[str, Any]) -> list[str]:
    """Major-topic descriptors named in the question, else in the abstract, else all majors."""
    descriptors = inputs.get("descriptors") or []
    majors = [d for d in descriptors if d["major"]] or list(descriptors)
    text = f"{inputs.get('title') or ''} {inputs.get('abstract') or ''}"
    for haystack in (question, text):
        words = ot.content_words(haystack)
        named = [d["ui"] for d in majors if _name_occurs(d["name"], words)]
        if named:
            return named
    return [d["ui"] for d in majors]


def _name_occurs(name: str, words: set[str]) -> bool:
    """A heading ('Neoplasms, Experimental') occurs when all its content words do."""
    needed = ot.content_words(name)
    return bool(needed) and needed <= words


def offline_questions(inputs: dict[str, Any]) -> dict[str, Any]:
    """Deterministic, extractive questions: objectives and statement titles rewritten."""
    candidates = itertools.chain(
        _mechanistic_candidates(inputs)
        if inputs.get("style") == "mechanistic"
        else _clinical_candidates(inputs),
        _fallback_candidates(inputs),
    )
    questions: list[str] = []
    for candidate in candidates:
        candidate = ot.normalise_space(candidate).translate(_GRAMMAR_UNSAFE)
        if len(candidate) > 1 and candidate not in questions:
            questions.append(candidate)
        if len(questions) >= int(inputs.get("n") or 1):
            break
    return {
        "questions": [
            {"question": question, "descriptor_uis": _tag_descriptors(question, inputs)}
            for question in questions
        ]
    }


# --- results ---------------------------------------------------------------------------------


def validate_descriptors(
    proposed: Sequence[str], allowed_uis: Collection[str], known_uis: Collection[str] | None
) -> tuple[list[str], int]:
    """Keep UIs from the abstract's own headings that the tree knows (order kept, no repeats);
    return them with the number dropped. `known_uis=None` skips the tree check."""
    kept: list[str] = []
    dropped = 0
    for ui in proposed:
        ui = (ui or "").strip()
        if ui in kept:
            continue
        if ui in allowed_uis and (known_uis is None or ui in known_uis):
            kept.append(ui)
        else:
            dropped += 1
    return kept, dropped


def _is_interrogative(question: str) -> bool:
    return len(question) > 1 and question.endswith("?")


# Rejection reasons, counted per reason in candidate_qa's metadata.
REJECT_EMPTY = "empty"
REJECT_NOT_QUESTION = "not a question"
REJECT_COPIED = "copied prompt"
REJECT_CALL_FAILED = "llm call failed"
_PLACEHOLDER = re.compile(r"\b(?:[Dd]oes|[Dd]o|[Ii]s|[Aa]re|[Cc]an)\s+X\s+\w+\s+Y\b")


def _copied_prompt(question: str, messages: list[dict[str, str]]) -> bool:
    """The question is the prompt's own wording (or a placeholder such as 'Does X affect Y?'),
    not a question about the abstract."""
    if _PLACEHOLDER.search(question):
        return True
    words = re.findall(r"\w+", question.lower())
    if len(words) < 4:
        return False
    instructions = " ".join(re.findall(r"\w+", instruction_text(messages).lower()))
    return " ".join(words) in instructions


def questions_from_results(
    requests: Sequence[LLMRequest],
    results: Sequence[LLMResult],
    known_uis: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per generated question (or one failed row per failed request).

    Rows: candidate_id, source_pmid, agent, question_index, question, descriptor_uis,
    dropped_descriptors, llm_call_id, model, prompt_version, status (ok|failed), error.
    A question that is empty or not interrogative becomes a failed row, not a silent drop.
    """
    if len(requests) != len(results):
        raise ValueError(f"{len(requests)} requests but {len(results)} results")
    rows: list[dict[str, Any]] = []
    for request, result in zip(requests, results, strict=True):
        pmid = int(request.inputs["pmid"])
        agent = request.role.removeprefix("question:")
        allowed = {d["ui"] for d in request.inputs.get("descriptors") or []}
        base = {
            "source_pmid": pmid,
            "agent": agent,
            "llm_call_id": result.call_id,
            "model": result.model,
            "prompt_version": request.prompt_version,
        }
        questions = _parsed_questions(result)
        if not result.ok or not questions:
            error = result.error if not result.ok else "no questions in the response"
            reason = REJECT_CALL_FAILED if not result.ok else REJECT_EMPTY
            rows.append(_row(base, 0, None, [], 0, "failed", error or "failed", reason))
            continue
        limit = max(1, int(request.inputs.get("n") or 1))
        for index, generated in enumerate(questions[:limit]):
            text = ot.normalise_space(generated.question)
            kept, dropped = validate_descriptors(generated.descriptor_uis, allowed, known_uis)
            reason = (
                REJECT_EMPTY
                if not text
                else REJECT_NOT_QUESTION
                if not _is_interrogative(text)
                else REJECT_COPIED
                if _copied_prompt(text, request.messages)
                else None
            )
            status = "ok" if reason is None else "failed"
            rows.append(_row(base, index, text or None, kept, dropped, status, reason, reason))
    return rows


def _parsed_questions(result: LLMResult) -> list[GeneratedQuestion]:
    if not result.ok or result.parsed is None:
        return []
    parsed = result.parsed
    if not isinstance(parsed, QuestionSet):
        parsed = QuestionSet.model_validate(parsed.model_dump())
    return list(parsed.questions)


def _row(
    base: dict[str, Any],
    index: int,
    question: str | None,
    descriptor_uis: list[str],
    dropped: int,
    status: str,
    error: str | None,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "candidate_id": f"{base['source_pmid']}:{base['agent']}:{index}",
        **base,
        "question_index": index,
        "question": question,
        "descriptor_uis": descriptor_uis,
        "dropped_descriptors": dropped,
        "status": status,
        "error": error,
        "reject_reason": reason,
    }


register_offline("question", offline_questions)
