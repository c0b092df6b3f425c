"""Answer agent: request building, offline extractive answers, decisions and flags."""

from __future__ import annotations

import pytest

from mkailin_assets.agents import offline_text as ot
from mkailin_assets.agents.answer import (
    GroundedAnswer,
    answers_from_results,
    build_answer_requests,
    decision_from_text,
    flag_answer,
    is_yes_no_question,
    says_insufficient,
    valid_citations,
)
from mkailin_assets.llm.offline import offline_output
from mkailin_assets.llm.types import LLMResult
from tests.conftest import PUBMEDQA_DIR, require_shared

STRUCTURED = (
    "OBJECTIVE: To determine whether low-dose aspirin reduces the incidence of colorectal "
    "adenomas in older adults. METHODS: A randomised trial of 1,200 participants (e.g. aged 65 or "
    "over). RESULTS: Adenomas were found in 18% vs. 25% of participants. CONCLUSIONS: Low-dose "
    "aspirin reduced the incidence of colorectal adenomas in older adults. Bleeding risk needs "
    "further study."
)
UNSTRUCTURED_NEGATIVE = (
    "Aspirin has been proposed for cancer prevention. We followed 5,000 women for 10 years. "
    "In conclusion, aspirin did not reduce the incidence of colorectal adenomas in women. "
    "Longer follow-up is planned."
)
UNSTRUCTURED_PLAIN = (
    "Statins lower cholesterol. We measured endothelial function in 80 patients. Flow-mediated "
    "dilatation improved after 8 weeks of atorvastatin."
)

CONTEXTS = [
    {"pmid": 111, "title": "Aspirin and adenomas", "abstract": STRUCTURED},
    {"pmid": 222, "title": "Aspirin in women", "abstract": UNSTRUCTURED_NEGATIVE},
    {"pmid": 333, "title": "Statins and the endothelium", "abstract": UNSTRUCTURED_PLAIN},
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Does aspirin reduce colorectal adenomas?", True),
        ("Is serum ferritin a marker of disease activity?", True),
        ("Can statins improve endothelial function?", True),
        ("How does aspirin reduce colorectal adenomas?", False),
        ("What mechanisms underlie statin effects?", False),
        ("", False),
    ],
)
def test_is_yes_no_question(question, expected):
    assert is_yes_no_question(question) is expected


def test_conclusion_sentences_section_then_openers_then_last_sentence():
    assert ot.conclusion_sentences(STRUCTURED) == [
        "Low-dose aspirin reduced the incidence of colorectal adenomas in older adults.",
        "Bleeding risk needs further study.",
    ]
    assert ot.conclusion_sentences(UNSTRUCTURED_NEGATIVE) == [
        "In conclusion, aspirin did not reduce the incidence of colorectal adenomas in women."
    ]
    assert ot.conclusion_sentences(UNSTRUCTURED_PLAIN) == [
        "Flow-mediated dilatation improved after 8 weeks of atorvastatin."
    ]
    assert ot.conclusion_sentences("") == []


def test_requests_carry_question_contexts_and_decision_instruction():
    rows = [
        {
            "candidate_id": "1:clinical:0",
            "question": "Does aspirin reduce colorectal adenomas?",
            "contexts": CONTEXTS,
        },
        {
            "candidate_id": "2:mechanistic:0",
            "question": "How do statins improve endothelial function?",
            "contexts": CONTEXTS[2:],
        },
    ]
    yes_no, open_ended = build_answer_requests(rows)
    assert (yes_no.item_id, yes_no.role, yes_no.prompt_version) == (
        "1:clinical:0",
        "answer",
        "answer-grounded-v1",
    )
    user = yes_no.messages[1]["content"]
    for pmid in (111, 222, 333):
        assert f"PMID {pmid}:" in user
    assert user.count("<<<BEGIN CONTEXT>>>") == 3 and "yes, no or maybe" in user
    assert "final_decision to none" in open_ended.messages[1]["content"]
    assert yes_no.inputs["yes_no"] is True and open_ended.inputs["yes_no"] is False


def _offline(question: str, contexts=CONTEXTS, source_pmid: int | None = None) -> dict:
    request = build_answer_requests(
        [
            {
                "candidate_id": "x",
                "question": question,
                "contexts": contexts,
                "source_pmid": source_pmid,
            }
        ]
    )[0]
    payload = offline_output(request)
    GroundedAnswer.model_validate(payload)
    return payload


def test_offline_answer_is_the_source_abstracts_own_text_citing_its_pmid_inline():
    question = "Does low-dose aspirin reduce colorectal adenomas in older adults?"
    payload = _offline(question, source_pmid=111)
    assert payload["answer"] == (
        "Low-dose aspirin reduced the incidence of colorectal adenomas in older adults. "
        "Bleeding risk needs further study. [PMID 111]"
    )
    assert payload["cited_pmids"] == [111]
    assert payload["final_decision"] == "yes"  # from the sentence closest to the question
    assert payload["insufficient_context"] is False
    assert flag_answer(GroundedAnswer(**payload), [111, 222, 333]) is None

    # Another source: only its own sentences, never a sentence of another abstract.
    other = _offline(question, source_pmid=222)
    assert other["answer"] == (
        "In conclusion, aspirin did not reduce the incidence of colorectal adenomas in women. "
        "[PMID 222]"
    )
    assert other["cited_pmids"] == [222] and other["final_decision"] == "no"


def test_offline_answer_without_the_source_uses_the_closest_context_alone():
    payload = _offline("Does flow-mediated dilatation improve with atorvastatin?")
    assert payload["cited_pmids"] == [333]
    assert payload["answer"].endswith("[PMID 333]")
    assert "aspirin" not in payload["answer"].lower()


def test_offline_answer_decides_yes_no_questions_only():
    """The real-model prompt's rule: a yes/no question gets yes/no/maybe, any other none."""
    assert (
        _offline("Does aspirin reduce colorectal adenomas in women?", source_pmid=222)[
            "final_decision"
        ]
        == "no"
    )
    open_ended = _offline("How do statins improve flow-mediated dilatation?", source_pmid=333)
    assert open_ended["final_decision"] == "none"
    assert open_ended["cited_pmids"] == [333]
    for question in ("What limits flow-mediated dilatation?", "Which statin was used?"):
        assert _offline(question, source_pmid=333)["final_decision"] == "none"
    assert _offline("Why do statins help?", contexts=[])["final_decision"] == "none"
    assert _offline("Does X?") == _offline("Does X?")  # deterministic


def test_offline_answer_without_contexts_says_so_and_is_flagged():
    payload = _offline("Does aspirin reduce adenomas?", contexts=[])
    assert payload["insufficient_context"] is True and payload["cited_pmids"] == []
    assert payload["final_decision"] == "maybe"
    assert flag_answer(GroundedAnswer(**payload), []) == "insufficient_context"


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        ("Aspirin reduced adenomas.", "yes"),
        ("Aspirin did not reduce adenomas.", "no"),
        ("The intervention failed to lower pressure.", "no"),
        ("Statins may improve endothelial function.", "maybe"),
        ("Whether ferritin tracks activity remains unclear.", "maybe"),
    ],
)
def test_decision_cue_words(text, decision):
    assert decision_from_text(text) == decision


def _answer(text="Aspirin reduced adenomas.", cited=(111,), insufficient=False):
    return GroundedAnswer(
        answer=text,
        cited_pmids=list(cited),
        final_decision="yes",
        insufficient_context=insufficient,
    )


def test_flags():
    contexts = [111, 222]
    assert flag_answer(_answer(), contexts) is None
    assert flag_answer(_answer(text="   "), contexts) == "empty"
    assert flag_answer(_answer(insufficient=True), contexts) == "insufficient_context"
    text = "The provided contexts are insufficient to answer this question."
    assert flag_answer(_answer(text=text), contexts) == "insufficient_context"
    assert flag_answer(_answer(cited=()), contexts) == "no_citation"
    assert flag_answer(_answer(cited=(999,)), contexts) == "no_citation"
    assert flag_answer(_answer(cited=(111, 999)), contexts) == "cites_outside_context"
    assert valid_citations(_answer(cited=(999, 222, 111, 222)), contexts) == [222, 111]


@pytest.mark.parametrize(
    "text",
    [
        "The contexts do not contain enough information to answer the question.",
        "There is insufficient evidence in the abstracts.",
        "This cannot be answered from the given abstracts.",
    ],
)
def test_says_insufficient(text):
    assert says_insufficient(text)


def test_says_insufficient_ignores_findings_about_insufficiency():
    assert not says_insufficient("Vitamin D insufficiency was associated with falls.")


def test_answers_from_results_rows():
    requests = build_answer_requests(
        [
            {"candidate_id": "a", "question": "Does aspirin work?", "contexts": CONTEXTS[:1]},
            {"candidate_id": "b", "question": "How do statins work?", "contexts": CONTEXTS[2:]},
            {"candidate_id": "c", "question": "Does it?", "contexts": CONTEXTS[:1]},
        ]
    )
    results = [
        LLMResult("a", "ca", "m", True, parsed=_answer(cited=(111, 999))),
        LLMResult(
            "b",
            "cb",
            "m",
            True,
            parsed=GroundedAnswer(
                answer="By lowering LDL.",
                cited_pmids=[333],
                final_decision="none",
                insufficient_context=False,
            ),
        ),
        LLMResult("c", "cc", "m", False, error="HTTP 500"),
    ]
    a, b, c = answers_from_results(requests, results)
    assert a["cited_pmids"] == [111] and a["answer_flag"] == "cites_outside_context"
    assert a["final_decision"] == "yes" and a["answer_call_id"] == "ca" and a["status"] == "ok"
    assert b["final_decision"] is None and b["answer_flag"] is None
    assert c["status"] == "failed" and c["answer_flag"] == "failed" and c["error"] == "HTTP 500"
    with pytest.raises(ValueError):
        answers_from_results(requests, results[:1])


def test_answer_schema_is_strict_json_schema():
    schema = GroundedAnswer.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    assert schema["properties"]["final_decision"]["enum"] == ["yes", "no", "maybe", "none"]


def test_offline_decisions_on_pubmedqa_expert_items():
    """PubMedQA's 1,000 expert items answered from their own abstract: the cue-word rule beats
    the chance level of three classes (measured: 0.436; majority class 'yes' is 0.552)."""
    import json

    items = json.loads((require_shared(PUBMEDQA_DIR) / "ori_pqal.json").read_text())
    rows = [
        {
            "candidate_id": pmid,
            "question": item["QUESTION"],
            "contexts": [
                {
                    "pmid": int(pmid),
                    "title": "",
                    "abstract": "\n".join(
                        f"{label}: {text}"
                        for label, text in zip(item["LABELS"], item["CONTEXTS"], strict=True)
                    )
                    + "\nCONCLUSIONS: "
                    + item["LONG_ANSWER"],
                }
            ],
        }
        for pmid, item in items.items()
    ]
    requests = build_answer_requests(rows)
    answers = [offline_output(request) for request in requests]
    correct = sum(
        answer["final_decision"] == items[request.item_id]["final_decision"]
        for answer, request in zip(answers, requests, strict=True)
    )
    assert correct / len(items) > 0.4
    assert all(
        a["cited_pmids"] == [int(r.item_id)]
        for a, r in zip(answers, requests, strict=True)
        if a["answer"]
    )
