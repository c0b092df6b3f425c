"""The LLM client as a Dagster resource.

Each field defaults to its MKAILIN_LLM_* setting (mkailin_assets.settings), read when the resource
is created. The API key is never a config field: it is read from the settings (MKAILIN_LLM_API_KEY,
then OPENAI_API_KEY) when a client is built, so it cannot show up in run config or the UI.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from mkailin_assets.llm.batch import BatchPollReport, poll_batches
from mkailin_assets.llm.client import LLMClient
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.settings import setting_field


def _setting(field: str) -> Any:
    """A field defaulting to its MKAILIN_LLM_<FIELD> setting."""
    return setting_field(f"llm_{field}")


class LLMResource(dg.ConfigurableResource):
    """Backend, endpoint, models and limits of the one LLM client (secrets come from env)."""

    backend: str = _setting("backend")
    base_url: str | None = _setting("base_url")
    model: str = _setting("model")
    embedding_model: str = _setting("embedding_model")
    temperature: float | None = _setting("temperature")
    max_tokens: int | None = _setting("max_tokens")
    roles: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {
            role: role_settings.model_dump(exclude_none=True)
            for role, role_settings in LLMConfig.from_env().roles.items()
        },
        description="per-role model and sampling, e.g. {'judge': {'model': 'gpt-4o'}}",
    )
    timeout_s: float = _setting("timeout_s")
    max_concurrency: int = _setting("max_concurrency")
    max_retries: int = _setting("max_retries")
    max_schema_retries: int = _setting("max_schema_retries")
    max_failure_rate: float = _setting("max_failure_rate")
    budget_tokens: int | None = _setting("budget_tokens")
    budget_usd: float | None = _setting("budget_usd")
    batch_mode: bool = _setting("batch_mode")

    def llm_config(self) -> LLMConfig:
        env = LLMConfig.from_env()  # the key and the price table come from the environment
        return LLMConfig(
            backend=self.backend,
            base_url=self.base_url,
            api_key=env.api_key,
            model=self.model,
            embedding_model=self.embedding_model,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=env.seed,
            roles=self.roles,
            timeout_s=self.timeout_s,
            max_concurrency=self.max_concurrency,
            max_retries=self.max_retries,
            max_schema_retries=self.max_schema_retries,
            max_failure_rate=self.max_failure_rate,
            budget_tokens=self.budget_tokens,
            budget_usd=self.budget_usd,
            prices=env.prices,
            batch_mode=self.batch_mode,
            # Not resource fields (yet): structured-output mode, timeout shape, local model.
            structured_output=env.structured_output,
            timeout_base_s=env.timeout_base_s,
            min_tokens_per_s=env.min_tokens_per_s,
            local=env.local,
        )

    def client(self, con: duckdb.DuckDBPyConnection, logger: Any | None = None) -> LLMClient:
        """A client attached to a connection the caller holds for the whole call."""
        return LLMClient(self.llm_config(), con, logger=logger)

    def detached_client(self, database_path: str, logger: Any | None = None) -> LLMClient:
        """A client for phased stages: it reads llm_calls in `prefetch`, writes it in `commit`
        (each given a connection by the caller) and touches no DuckDB while calls are in flight;
        its spool and live store live beside `database_path`."""
        return LLMClient(self.llm_config(), logger=logger, database_path=database_path)

    def poll_batches(
        self, con: duckdb.DuckDBPyConnection, logger: Any | None = None
    ) -> BatchPollReport:
        """For the batch sensor: collect finished OpenAI batches into llm_calls."""
        return poll_batches(self.llm_config(), con, logger=logger)
