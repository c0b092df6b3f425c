"""Evaluation parts without Dagster: answer parsing, figures, models, the offline rule, items."""

from __future__ import annotations

import json

import pytest

from mkailin_assets.evaluation import config
from mkailin_assets.evaluation.offline_rule import offline_answer
from mkailin_assets.evaluation.parsing import parse_answer
from mkailin_assets.evaluation.pubmedqa import load_items
from mkailin_assets.evaluation.scoring import score, wilson_interval
from mkailin_assets.llm.config import LLMConfig

# What models really write (shapes seen from GPT-4-class, Llama and small local models).
ANSWERS = [
    ("Answer: Yes.", "yes", "marker"),
    ("yes", "yes", "leading"),
    ("No.", "no", "leading"),
    ("**Maybe** – the evidence is mixed.", "maybe", "leading"),
    (
        "The study compared 120 patients and found no significant difference in mortality "
        "(p=0.41). Therefore, the answer is no.",
        "no",
        "marker",
    ),
    (
        "Let's think step by step.\n1. The trial was randomised.\n2. The effect was modest.\n\n"
        "Final answer: **yes**",
        "yes",
        "marker",
    ),
    ('{"answer": "maybe", "reasoning": "small sample"}', "maybe", "json"),
    ('```json\n{\n  "final_decision": "No"\n}\n```', "no", "json"),
    ('Here is my answer: {"Answer": "Yes", "confidence": 0.8}', "yes", "json"),
    ("Answer: uncertain", "maybe", "marker"),
    ("Based on the context provided, it is unclear.\n\nMaybe", "maybe", "last_line"),
    ("I'm sorry, but I can't provide medical advice. Please consult a doctor.", None, "refusal"),
    ("As an AI language model, I cannot answer medical questions.", None, "refusal"),
    ("The results suggest several possibilities depending on the cohort.", None, "unparseable"),
    ("None of the patients improved after the intervention.", None, "unparseable"),
    ("Conclusion: no difference was seen, but the answer is yes.", "yes", "marker"),
    ("", None, "empty"),
    (None, None, "empty"),
]


@pytest.mark.parametrize(("text", "label", "how"), ANSWERS)
def test_parsing_real_looking_answers(text, label, how):
    parsed = parse_answer(text)
    assert (parsed.label, parsed.how) == (label, how)


def test_figures_against_hand_computed():
    gold = ["yes", "yes", "yes", "no", "no", "maybe", "yes", "no", "maybe", "yes"]
    pred = ["yes", "yes", "no", "no", None, "maybe", "maybe", "no", "yes", "yes"]
    figures = score(gold, pred)
    # correct: positions 0,1,3,5,7,9 = 6 of 10.
    assert (figures.n, figures.correct, figures.accuracy) == (10, 6, 0.6)
    # yes: tp 3, predicted 4, gold 5 -> P .75, R .6, F1 2/3; no: tp 2, predicted 3, gold 3 ->
    # F1 2/3; maybe: tp 1, predicted 2, gold 2 -> F1 .5. Macro = (2/3 + 2/3 + .5) / 3.
    assert figures.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 0.5) / 3)
    assert figures.recall == pytest.approx({"yes": 0.6, "no": 2 / 3, "maybe": 0.5})
    assert figures.unparseable == 1
    assert figures.majority_baseline == 0.5
    # Wilson 95% for 6/10, by hand: centre (0.6 + 1.92/20) / 1.384, half-width 0.2684.
    assert (figures.ci_low, figures.ci_high) == pytest.approx((0.3127, 0.8318), abs=1e-4)


def test_wilson_interval_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(50, 50)
    assert high == 1.0 and 0.92 < low < 0.93
    assert wilson_interval(276, 500) == pytest.approx((0.5082, 0.5950), abs=1e-4)


def test_an_unparseable_answer_counts_as_wrong_not_dropped():
    assert score(["yes", "no"], ["yes", None]).accuracy == 0.5


def test_offline_rule_is_deterministic_and_reads_cues():
    no = {"question": "q", "contexts": ["x", "There was no change and it did not differ."]}
    maybe = {"question": "q", "contexts": ["It may help; further studies are needed."]}
    assert offline_answer(no)["answer"] == "no"
    assert offline_answer(maybe)["answer"] == "maybe"
    assert offline_answer({"question": "Is aspirin effective?", "contexts": []})["answer"] == "yes"
    assert offline_answer(no) == offline_answer(dict(no))


def test_models_from_json_and_the_key_stays_a_name(monkeypatch):
    monkeypatch.setenv(
        "MKAILIN_EVAL_MODELS",
        json.dumps(
            {"small": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "K"}}
        ),
    )
    monkeypatch.setenv("K", "sk-secret-value")
    names = [m.name for m in config.configured_models()]
    assert names == ["offline", "small"]
    model = config.resolve_model("small")
    built = config.llm_config_for(model, LLMConfig())
    assert (
        built.backend == "openai"
        and built.model == "m"
        and built.api_key_value() == "sk-secret-value"
    )
    assert "sk-secret" not in json.dumps(model.public_dict())
    assert "sk-secret" not in json.dumps(built.public_dict())
    # A partition added from the UI: that model id at the default endpoint.
    assert config.resolve_model("gpt-4o").model_id == "gpt-4o"
    monkeypatch.delenv("K")
    with pytest.raises(ValueError, match="K is not set"):
        config.llm_config_for(model, LLMConfig())


def test_shipped_items_test_split_first():
    items = load_items(config.DEFAULT_PUBMEDQA)
    assert len(items) == 1000
    test = [i for i in items if i.split == "test"]
    assert len(test) == 500 and items[:500] == test
    assert sum(1 for i in test if i.final_decision == "yes") == 276  # 55.2% majority
    assert len(load_items(config.DEFAULT_PUBMEDQA, split="test", limit=7)) == 7


def test_dataset_card_shows_the_latest_figures_per_model():
    from mkailin_assets.curation.export import benchmark_section

    assert "No model evaluated yet" in benchmark_section([])
    row = {
        "model": "offline",
        "benchmark": "pubmedqa",
        "setting": "reasoning_required",
        "split": "test",
        "n": 500,
        "accuracy_pct": 59.6,
        "ci_low_pct": 55.2,
        "ci_high_pct": 63.8,
        "macro_f1_pct": 40.5,
    }
    section = benchmark_section([row])
    assert "| offline | pubmedqa | reasoning_required | test | 500 | 59.6 | 55.2–63.8 | 40.5 |" in (
        section
    )
    assert "82.0" in section and "55.2%" in section


def test_a_local_model_is_a_gguf_file_served_here(monkeypatch, tmp_path):
    gguf = tmp_path / "Tiny-Model.Q4.gguf"
    gguf.write_bytes(b"GGUF")
    models = [{"name": "tiny", "backend": "local", "model": str(gguf)}, {"name": "default-local",
              "backend": "local"}]  # fmt: skip
    monkeypatch.setenv("MKAILIN_EVAL_MODELS", json.dumps(models))
    built = config.llm_config_for(config.resolve_model("tiny"), LLMConfig())
    assert built.backend == "local" and built.local.model_path == str(gguf)
    plain = config.llm_config_for(config.resolve_model("default-local"), LLMConfig())
    assert plain.backend == "local" and plain.local.model_path is None  # MKAILIN_LOCAL_MODEL
