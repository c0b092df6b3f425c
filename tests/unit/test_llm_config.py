"""LLMConfig: env loading, role lookup, prices, and the key staying secret."""

from __future__ import annotations

import json

import pytest

from mkailin_assets.llm.config import OFFLINE_EMBEDDING_MODEL, LLMConfig, RoleSettings
from mkailin_assets.llm.types import OFFLINE_MODEL

KEY = "sk-config-test-0123456789"


def test_from_env_reads_backend_models_limits_and_key() -> None:
    config = LLMConfig.from_env(
        {
            "MKAILIN_LLM_BACKEND": "openai",
            "MKAILIN_LLM_BASE_URL": "http://127.0.0.1:9/v1",
            "MKAILIN_LLM_MODEL": "base-model",
            "MKAILIN_LLM_MODEL_JUDGE": "judge-model",
            "MKAILIN_LLM_MODEL_QUESTION__CLINICAL": "clinical-model",
            "MKAILIN_LLM_MAX_CONCURRENCY": "7",
            "MKAILIN_LLM_BUDGET_USD": "1.5",
            "MKAILIN_LLM_BATCH_MODE": "true",
            "OPENAI_API_KEY": KEY,
        }
    )
    assert config.backend == "openai"
    assert config.max_concurrency == 7
    assert config.budget_usd == 1.5
    assert config.batch_mode is True
    assert config.api_key_value() == KEY
    assert config.model_for("judge") == "judge-model"
    assert config.model_for("question:clinical") == "clinical-model"
    assert config.model_for("question:mechanistic") == "base-model"


def test_mkailin_key_wins_over_openai_key() -> None:
    config = LLMConfig.from_env({"MKAILIN_LLM_API_KEY": "sk-a", "OPENAI_API_KEY": "sk-b"})
    assert config.api_key_value() == "sk-a"


def test_role_lookup_exact_then_prefix_then_default() -> None:
    config = LLMConfig(
        backend="openai",
        model="default",
        temperature=0.0,
        roles={
            "question": RoleSettings(model="q-model", temperature=0.7),
            "question:clinical": RoleSettings(temperature=0.9),
        },
    )
    assert config.role_settings("question:clinical").model == "q-model"
    assert config.role_settings("question:clinical").temperature == 0.9
    assert config.role_settings("question:other").temperature == 0.7
    assert config.role_settings("answer").model == "default"
    assert config.role_settings("answer").sampling() == {"temperature": 0.0, "max_tokens": 512}
    assert config.model_for("embeddings") == config.embedding_model


def test_generation_is_bounded_per_role_and_the_timeout_follows_it() -> None:
    config = LLMConfig.from_env(
        {
            "MKAILIN_LLM_BACKEND": "openai",
            "MKAILIN_LLM_ROLES": json.dumps({"judge": {"max_tokens": 40}}),
            "MKAILIN_LLM_STRUCTURED_OUTPUT": "prompt",
            "MKAILIN_LLM_MODEL_ANSWER": "m",
        }
    )
    assert config.role_settings("question:clinical").max_tokens == 256
    assert config.role_settings("judge").max_tokens == 40  # overridable per role
    assert config.role_settings("embeddings").max_tokens is None
    assert config.request_timeout_s(40) == 15.0 + 40 / 8.0
    assert config.request_timeout_s(10_000) == config.timeout_s  # never above the ceiling
    assert config.request_timeout_s(None) == config.timeout_s
    assert config.structured_mode_for("answer") == "prompt"
    forced = LLMConfig(roles={"judge": RoleSettings(structured_output="json_object")})
    assert forced.structured_mode_for("judge") == "json_object"
    assert forced.structured_mode_for("answer") == "auto"
    every = LLMConfig.from_env({"MKAILIN_LLM_MAX_TOKENS": "99"})
    assert every.role_settings("answer").max_tokens == 99  # the global setting wins


def test_local_model_settings_from_env() -> None:
    config = LLMConfig.from_env(
        {
            "MKAILIN_LLM_BACKEND": "local",
            "MKAILIN_LOCAL_MODEL": "/models/x.gguf",
            "MKAILIN_LOCAL_THREADS": "3",
            "MKAILIN_LOCAL_CONTEXT_SIZE": "2048",
            "MKAILIN_LOCAL_GPU_LAYERS": "-1",
        }
    )
    assert config.backend == "local"
    assert config.local.model_path == "/models/x.gguf" and config.local.threads == 3
    assert config.local.context_size == 2048 and config.local.gpu_layers == -1


def test_offline_backend_names_its_own_models() -> None:
    config = LLMConfig(backend="offline")
    assert config.model_for("judge") == OFFLINE_MODEL
    assert config.model_for("embeddings") == OFFLINE_EMBEDDING_MODEL


def test_prices_builtin_and_json_override() -> None:
    config = LLMConfig.from_env(
        {"MKAILIN_LLM_PRICES": json.dumps({"my-model": {"input": 1.0, "output": 2.0}})}
    )
    assert config.cost_usd("my-model", 1_000_000, 500_000) == pytest.approx(2.0)
    assert config.cost_usd("gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert config.cost_usd("unknown", 10, 10) == 0.0


def test_key_absent_from_repr_str_dump_and_public_dict() -> None:
    config = LLMConfig.from_env({"MKAILIN_LLM_API_KEY": KEY})
    for text in (
        repr(config),
        str(config),
        config.model_dump_json(),
        json.dumps(config.public_dict()),
    ):
        assert KEY not in text
