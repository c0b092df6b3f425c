"""Question agents: offline questions on realistic abstracts, schema, determinism, descriptors."""

from __future__ import annotations

import json

import polars as pl
import pytest
from pydantic import ValidationError

from mkailin_assets.agents import offline_text as ot
from mkailin_assets.agents.prompts import PROMPTS
from mkailin_assets.agents.question_generation import (
    DEFAULT_QUESTION_AGENTS,
    GeneratedQuestion,
    QuestionAgent,
    QuestionSet,
    build_question_requests,
    offline_questions,
    questions_from_results,
    validate_descriptors,
)
from mkailin_assets.llm.offline import offline_output
from mkailin_assets.llm.types import OFFLINE_MODEL, LLMResult

# Written in the style of real PubMed records: structured (OBJECTIVE/CONCLUSIONS) and unstructured.
ABSTRACTS = pl.DataFrame(
    {
        "pmid": [1001, 1002, 1003, 1004],
        "title": [
            "Low-dose aspirin reduces the incidence of colorectal adenomas in older adults: a randomized trial.",
            "Effects of aerobic exercise on blood pressure in patients with resistant hypertension",
            "Mitochondrial dynamics during programmed cell death in lace plant leaves",
            "Is serum ferritin a marker of disease activity in adult-onset Still's disease?",
        ],
        "abstract": [
            "OBJECTIVE: To determine whether low-dose aspirin reduces the incidence of colorectal "
            "adenomas in adults over 65 years. METHODS: We randomised 1,200 participants (i.e. "
            "aged 65 or over) to aspirin 100 mg or placebo for 3 years. RESULTS: Adenomas were "
            "found in 18% vs. 25% of participants (p = 0.01). CONCLUSIONS: Low-dose aspirin "
            "reduced colorectal adenomas in older adults. Bleeding was not increased.",
            "BACKGROUND: Resistant hypertension carries a high cardiovascular risk. The aim of this "
            "study was to investigate how aerobic exercise lowers ambulatory blood pressure in "
            "resistant hypertension. METHODS: Sixty patients were assigned to a 12-week treadmill "
            "programme. RESULTS: Daytime systolic pressure fell by 7 mmHg. CONCLUSIONS: Aerobic "
            "exercise lowers blood pressure, possibly through reduced sympathetic activity.",
            "Programmed cell death (PCD) is the regulated death of cells within an organism. The "
            "lace plant produces perforations in its leaves through PCD. We investigated the role "
            "of mitochondria in developmental PCD of lace plant leaves. Mitochondria changed shape "
            "and moved before cell death. These results suggest that mitochondria take part in "
            "remodelling the leaf during PCD.",
            "Serum ferritin is often raised in adult-onset Still's disease (AOSD). We measured "
            "ferritin in 40 patients. Ferritin correlated with disease activity scores.",
        ],
        "descriptor_uis": [
            ["D001241", "D015179", "D018256", "D006801"],
            ["D015444", "D006973", "D001794", "D006801"],
            ["D008928", "D017209", "D018515"],
            ["D005293", "D016706", "D006801"],
        ],
        "descriptor_names": [
            ["Aspirin", "Colorectal Neoplasms", "Adenoma", "Humans"],
            ["Exercise", "Hypertension", "Blood Pressure", "Humans"],
            ["Mitochondria", "Apoptosis", "Plant Leaves"],
            ["Ferritins", "Still's Disease, Adult-Onset", "Humans"],
        ],
        "major_descriptor_uis": [
            ["D001241", "D015179", "D018256"],
            ["D015444", "D006973"],
            ["D008928", "D017209"],
            ["D005293", "D016706"],
        ],
    }
)


def _offline_questions(abstracts: pl.DataFrame = ABSTRACTS) -> dict[str, list[dict]]:
    requests = build_question_requests(abstracts, DEFAULT_QUESTION_AGENTS)
    out = {}
    for request in requests:
        payload = offline_output(request)
        QuestionSet.model_validate(payload)  # schema-valid, as the client will check
        out[request.item_id] = payload["questions"]
    return out


def test_requests_one_per_abstract_and_agent_with_versions_and_delimited_abstract():
    requests = build_question_requests(ABSTRACTS)
    assert [r.item_id for r in requests[:2]] == ["1001:mechanistic", "1001:clinical"]
    assert len(requests) == 2 * ABSTRACTS.height
    mechanistic, clinical = requests[0], requests[1]
    assert mechanistic.role == "question:mechanistic" and clinical.role == "question:clinical"
    assert mechanistic.prompt_version == "qgen-mechanistic-v2" in PROMPTS
    assert clinical.prompt_version == "qgen-clinical-v2" in PROMPTS
    # Two distinct agents: different prompts on the same abstract.
    assert mechanistic.messages[1]["content"] != clinical.messages[1]["content"]
    system, user = mechanistic.messages
    assert system["role"] == "system" and "untrusted" in system["content"]
    assert "<<<BEGIN ABSTRACT>>>" in user["content"] and "<<<END ABSTRACT>>>" in user["content"]
    assert "- D001241: Aspirin (major topic)" in user["content"]
    assert "- D006801: Humans\n" in user["content"]  # listed, but not major
    assert mechanistic.response_model is QuestionSet


def test_offline_questions_on_realistic_abstracts():
    questions = {k: v[0]["question"] for k, v in _offline_questions().items()}
    assert questions == {
        # Stated objective ("To determine whether ...") turned into a mechanistic question.
        "1001:mechanistic": "How does low-dose aspirin reduce the incidence of colorectal adenomas in adults over 65 years?",
        # Statement title turned into a yes/no question, subtitle dropped.
        "1001:clinical": "Does low-dose aspirin reduce the incidence of colorectal adenomas in older adults?",
        # "The aim of this study was to investigate how ..."
        "1002:mechanistic": "How does aerobic exercise lower ambulatory blood pressure in resistant hypertension?",
        # A noun-phrase title "Effects of X on Y" -> "Does X affect Y?"
        "1002:clinical": "Does aerobic exercise affect blood pressure in patients with resistant hypertension?",
        # Unstructured: "We investigated the role of ..."
        "1003:mechanistic": "How is mitochondria involved in developmental PCD of lace plant leaves?",
        "1003:clinical": "Is mitochondria involved in developmental PCD of lace plant leaves?",
        # A title that is already a question is kept (clinical) or asks for the mechanism.
        "1004:mechanistic": "Is serum ferritin a marker of disease activity in adult-onset Still's disease, and by what mechanism?",
        "1004:clinical": "Is serum ferritin a marker of disease activity in adult-onset Still's disease?",
    }
    assert all(q.endswith("?") and len(q) > 10 for q in questions.values())


def test_offline_descriptor_tags_prefer_major_topics_named_in_the_question():
    tags = {k: v[0]["descriptor_uis"] for k, v in _offline_questions().items()}
    # Aspirin and Adenoma ("adenomas") are named; Colorectal Neoplasms is not ("cancer" is not).
    assert tags["1001:clinical"] == ["D001241", "D018256"]
    assert tags["1002:clinical"] == ["D015444", "D006973"]  # exercise, hypertension
    assert "D006801" not in sum(tags.values(), [])  # Humans is never a major topic here


def test_every_abstract_with_a_title_yields_a_question_from_both_agents():
    bare = pl.DataFrame(
        {
            "pmid": [7, 8],
            "title": ["Hepatic steatosis", "Cardiac outcomes after transcatheter valve repair"],
            "abstract": ["", "Short report."],
            "descriptor_uis": [["D005234"], []],
            "descriptor_names": [["Fatty Liver"], []],
        }
    )
    out = _offline_questions(bare)
    assert set(out) == {"7:mechanistic", "7:clinical", "8:mechanistic", "8:clinical"}
    for questions in out.values():
        assert len(questions) == 1 and questions[0]["question"].endswith("?")
    # Without major_descriptor_uis every heading counts as major.
    assert out["7:clinical"][0]["descriptor_uis"] == ["D005234"]
    assert out["8:clinical"][0]["descriptor_uis"] == []


def test_offline_is_deterministic_and_requests_serialise():
    first, second = _offline_questions(), _offline_questions()
    assert first == second
    for request in build_question_requests(ABSTRACTS):
        json.dumps(request.inputs)  # the client can cache on them


def test_several_questions_per_abstract_are_distinct():
    agent = QuestionAgent("clinical", "clinical", "qgen-clinical-v2", 0.7, questions_per_abstract=3)
    request = build_question_requests(ABSTRACTS.head(1), [agent])[0]
    questions = [q["question"] for q in offline_questions(request.inputs)["questions"]]
    assert 2 <= len(questions) <= 3
    assert len(set(questions)) == len(questions)


def test_schema_is_strict_json_schema():
    schema = QuestionSet.model_json_schema()
    item = schema["$defs"]["GeneratedQuestion"]
    for node in (schema, item):
        assert node["additionalProperties"] is False
        assert set(node["required"]) == set(node["properties"])


def test_every_response_model_is_already_strict_for_openai():
    """The openai SDK's strict converter (what the client sends) changes nothing in our schemas."""
    from openai.lib._pydantic import to_strict_json_schema

    from mkailin_assets.agents.answer import GroundedAnswer
    from mkailin_assets.agents.judge import JudgeVerdict

    for model in (QuestionSet, JudgeVerdict, GroundedAnswer):
        assert to_strict_json_schema(model) == model.model_json_schema()


def test_validate_descriptors_keeps_own_known_uis_and_counts_the_rest():
    kept, dropped = validate_descriptors(
        ["D001241", "D999999", "D015179", "D001241", "D006801", " "],
        allowed_uis={"D001241", "D015179", "D006801"},
        known_uis={"D001241", "D015179", "D999999"},
    )
    # D999999: not the abstract's; D006801: not in the tree; " ": empty. Repeats are not drops.
    assert kept == ["D001241", "D015179"]
    assert dropped == 3
    assert validate_descriptors(["D006801"], {"D006801"}, None) == (["D006801"], 0)


def _result(item_id: str, payload: dict | None, ok: bool = True, error: str | None = None):
    # Built without validation: the row builder must hold even when a schema let something by.
    parsed = (
        QuestionSet.model_construct(
            questions=[GeneratedQuestion.model_construct(**q) for q in payload["questions"]]
        )
        if payload is not None
        else None
    )
    return LLMResult(
        item_id=item_id, call_id=f"call-{item_id}", model="m", ok=ok, parsed=parsed, error=error
    )


def test_questions_from_results_rows_validation_and_failures():
    requests = build_question_requests(ABSTRACTS.head(2))
    results = [
        _result(
            "1001:mechanistic",
            {
                "questions": [
                    {
                        "question": " How does aspirin act? ",
                        "descriptor_uis": ["D001241", "D000001"],
                    }
                ]
            },
        ),
        _result("1001:clinical", None, ok=False, error="timeout after 3 retries"),
        _result(
            "1002:mechanistic",
            {"questions": [{"question": "Exercise lowers pressure.", "descriptor_uis": []}]},
        ),
        _result("1002:clinical", {"questions": []}),
    ]
    rows = questions_from_results(requests, results, known_uis={"D001241", "D000001", "D015444"})
    assert [(r["candidate_id"], r["status"]) for r in rows] == [
        ("1001:mechanistic:0", "ok"),
        ("1001:clinical:0", "failed"),
        ("1002:mechanistic:0", "failed"),
        ("1002:clinical:0", "failed"),
    ]
    ok = rows[0]
    assert ok["question"] == "How does aspirin act?"
    assert ok["descriptor_uis"] == ["D001241"] and ok["dropped_descriptors"] == 1
    assert ok["source_pmid"] == 1001 and ok["agent"] == "mechanistic" and ok["question_index"] == 0
    assert (
        ok["llm_call_id"] == "call-1001:mechanistic"
        and ok["prompt_version"] == "qgen-mechanistic-v2"
    )
    assert rows[1]["error"] == "timeout after 3 retries" and rows[1]["question"] is None
    assert rows[2]["error"] == "not a question"
    assert rows[3]["error"] == "no questions in the response"
    assert [r["reject_reason"] for r in rows] == [
        None,
        "llm call failed",
        "not a question",
        "empty",
    ]
    with pytest.raises(ValueError):
        questions_from_results(requests, results[:2])


def test_weak_model_output_is_rejected_by_the_schema_or_with_a_reason():
    for bad in ("1", "", "?", "Exercise lowers pressure."):
        with pytest.raises(ValidationError):
            GeneratedQuestion(question=bad, descriptor_uis=[])
    with pytest.raises(ValidationError):
        GeneratedQuestion(question="Does aspirin reduce pain?", descriptor_uis=["1"])
    requests = build_question_requests(ABSTRACTS.head(1))
    copied = [
        "Does X affect Y in Z?",
        "Is answerable from the biomedical literature?",  # the prompt's own words
        "Does aspirin lower the risk of a second stroke in older adults?",
    ]
    results = [
        _result(r.item_id, {"questions": [{"question": q, "descriptor_uis": []}]})
        for r, q in zip(requests, copied[:2], strict=True)
    ]
    rows = questions_from_results(requests, results)
    assert [r["reject_reason"] for r in rows] == ["copied prompt", "copied prompt"]
    ok = questions_from_results(
        requests[:1],
        [
            _result(
                requests[0].item_id, {"questions": [{"question": copied[2], "descriptor_uis": []}]}
            )
        ],
    )
    assert ok[0]["status"] == "ok" and ok[0]["reject_reason"] is None


def test_prompts_carry_no_placeholder_example_to_copy():
    for request in build_question_requests(ABSTRACTS.head(1)):
        text = " ".join(m["content"] for m in request.messages)
        assert "Does X" not in text and "'Does" not in text


def test_offline_results_through_the_row_builder():
    requests = build_question_requests(ABSTRACTS)
    results = [_result(r.item_id, offline_output(r)) for r in requests]
    for result in results:
        result.model = OFFLINE_MODEL
    rows = questions_from_results(
        requests, results, known_uis=set(sum(ABSTRACTS["descriptor_uis"].to_list(), []))
    )
    assert len(rows) == len(requests)
    assert all(r["status"] == "ok" and r["model"] == OFFLINE_MODEL for r in rows)
    assert all(r["dropped_descriptors"] == 0 for r in rows)


@pytest.mark.parametrize(
    ("statement", "question"),
    [
        ("Aspirin reduces X in Y", "Does aspirin reduce X in Y?"),
        ("Statins improve endothelial function.", "Do statins improve endothelial function?"),
        (
            "HIV infection increased mortality among children",
            "Did HIV infection increase mortality among children?",
        ),
        (
            "Obesity is associated with asthma severity",
            "Is obesity associated with asthma severity?",
        ),
        (
            "IL-6 induced by hypoxia promotes tumour growth",
            "Does IL-6 induced by hypoxia promote tumour growth?",
        ),
        ("TNF-alpha blockade can prevent uveitis", "Can TNF-alpha blockade prevent uveitis?"),
        ("Reduced expression of p53 in breast tumours", None),
        ("Smoking increases the risk of stroke", "Does smoking increase the risk of stroke?"),
        # Noun phrases that contain verb look-alikes stay noun phrases.
        ("Current anaplasmosis control techniques in the United States", None),
        ("Age-related increases in blood pressure", None),
        ("Parental coping in raising children who have spina bifida", None),
        ("Scrub typhus: a common cause of illness", None),
    ],
)
def test_statement_to_yes_no(statement, question):
    assert ot.statement_to_yes_no(statement) == question


def test_sections_in_both_layouts_ingest_lines_and_inline_labels():
    # Our ingest writes one section per line, with NLM's label as given (any case).
    lines = (
        "Background and aims: Fatty liver is common.\nMethods: A cohort.\nConclusions: It matters."
    )
    assert [(s.label, s.text) for s in ot.split_sections(lines)] == [
        ("BACKGROUND AND AIMS", "Fatty liver is common."),
        ("METHODS", "A cohort."),
        ("CONCLUSIONS", "It matters."),
    ]
    inline = "OBJECTIVE: To test it. METHODS: A trial. CONCLUSIONS: It works."
    assert [s.label for s in ot.split_sections(inline)] == ["OBJECTIVE", "METHODS", "CONCLUSIONS"]
    assert ot.split_sections("No labels here. pH was 7.4: stable.") == [
        ot.Section(None, "No labels here. pH was 7.4: stable.")
    ]
    assert ot.conclusion_sentences(lines) == ["It matters."]


@pytest.mark.slow
def test_offline_questions_on_the_real_baseline_file(baseline_file):
    """The first 500 real citations with an abstract and MeSH: every one yields two questions."""
    from mkailin_assets.ingest.pubmed_records import Citation, iter_pubmed_file

    citations = []
    for item in iter_pubmed_file(baseline_file):
        if isinstance(item, Citation) and item.abstract and item.mesh_headings and item.title:
            citations.append(item)
            if len(citations) == 500:
                break
    frame = pl.DataFrame(
        {
            "pmid": [c.pmid for c in citations],
            "title": [c.title for c in citations],
            "abstract": [c.abstract for c in citations],
            "descriptor_uis": [[h["descriptor_ui"] for h in c.mesh_headings] for c in citations],
            "descriptor_names": [[h["name"] for h in c.mesh_headings] for c in citations],
            "major_descriptor_uis": [
                [h["descriptor_ui"] for h in c.mesh_headings if h["major_topic"]] for c in citations
            ],
        }
    )
    out = _offline_questions(frame)
    assert len(out) == 1000
    own = {c.pmid: {h["descriptor_ui"] for h in c.mesh_headings} for c in citations}
    for item_id, questions in out.items():
        assert len(questions) == 1, item_id
        question = questions[0]["question"]
        assert question.endswith("?") and len(question) > 15 and "??" not in question, question
        assert questions[0]["descriptor_uis"], item_id
        assert set(questions[0]["descriptor_uis"]) <= own[int(item_id.split(":")[0])]
