"""Evaluation settings and models: every MKAILIN_EVAL_* variable is read here and nowhere else.

A model is a name (the `benchmark_models` partition key) plus its backend, endpoint, model id and
the *name* of the environment variable holding its key (the key itself is read only when the
client is built, and never stored). Models come from MKAILIN_EVAL_MODELS, e.g.

    [{"name": "gpt-4o-mini", "base_url": "https://.../v1", "model": "gpt-4o-mini",
      "api_key_env": "OPENAI_API_KEY"}]

(or an object keyed by name). The built-in `offline` model needs no endpoint; a model with
`"backend": "local"` is a GGUF file served on this machine (its `model` a path, else
MKAILIN_LOCAL_MODEL, else the default SmolLM2 file). A partition added
from the UI under a name MKAILIN_EVAL_MODELS does not list is that model id at the default
endpoint (MKAILIN_LLM_BASE_URL with MKAILIN_LLM_API_KEY).
"""

from __future__ import annotations

import json
import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mkailin_assets import settings
from mkailin_assets.llm.config import LLMConfig

OFFLINE_EVAL_MODEL = "offline"
DEFAULT_PUBMEDQA = settings.Settings.model_fields["eval_pubmedqa"].default
DEFAULT_MAX_TOKENS = 512  # bounds a small model that would otherwise write until its context fills


class EvalModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    backend: Literal["openai", "offline", "local"] = "openai"
    base_url: str | None = None  # None: the LLM resource's endpoint
    model: str | None = None  # model id at the endpoint (local: a GGUF path); None: the name
    api_key_env: str | None = None  # None: the LLM resource's key
    max_tokens: int | None = DEFAULT_MAX_TOKENS

    @property
    def model_id(self) -> str:
        return self.model or self.name

    def public_dict(self) -> dict[str, object]:
        """Safe to show: names the key's variable, never its value."""
        return self.model_dump(mode="json")


OFFLINE = EvalModel(name=OFFLINE_EVAL_MODEL, backend="offline", max_tokens=None)


def configured_models(raw: str | None = None) -> list[EvalModel]:
    """The built-in offline model, then MKAILIN_EVAL_MODELS (a JSON list, or object by name)."""
    raw = settings.get_settings().eval_models if raw is None else raw
    models = {OFFLINE.name: OFFLINE}
    if raw:
        data = json.loads(raw)
        if isinstance(data, dict):
            data = [{"name": name, **spec} for name, spec in data.items()]
        if not isinstance(data, list):
            raise ValueError(
                "MKAILIN_EVAL_MODELS must be a JSON list of models or an object by name"
            )
        for spec in data:
            model = EvalModel.model_validate(spec)
            models[model.name] = model
    return list(models.values())


def resolve_model(name: str) -> EvalModel:
    """The model a partition key names (see the module docstring for keys added from the UI)."""
    for model in configured_models():
        if model.name == name:
            return model
    return EvalModel(name=name)


def llm_config_for(model: EvalModel, base: LLMConfig) -> LLMConfig:
    """The LLM client's configuration for one evaluated model: the resource's limits, budget,
    retries and prices, with this model's backend, endpoint, id and key."""
    api_key = base.api_key
    if model.api_key_env:
        value = os.environ.get(model.api_key_env)
        if not value:
            raise ValueError(
                f"model {model.name!r}: environment variable {model.api_key_env} is not set"
            )
        api_key = SecretStr(value)
    local = base.local
    if model.backend == "local" and model.model:
        local = local.model_copy(update={"model_path": model.model})
    return base.model_copy(
        update={
            "backend": model.backend,
            "local": local,
            "base_url": model.base_url or base.base_url,
            "api_key": api_key,
            "model": model.model_id,
            "temperature": 0.0,
            "max_tokens": model.max_tokens,
            "roles": {},
            "batch_mode": False,
        }
    )


def pubmedqa_path() -> str:
    return settings.get_settings().eval_pubmedqa


def top_k() -> int:
    return settings.get_settings().eval_top_k


def item_limit() -> int | None:
    """MKAILIN_EVAL_LIMIT: evaluate only the first N items (test split first), e.g. in CI."""
    return settings.get_settings().eval_limit


def item_split() -> str:
    """MKAILIN_EVAL_SPLIT: `all` (the 1,000 PQA-L items, default) or `test` (the 500)."""
    return settings.get_settings().eval_split
