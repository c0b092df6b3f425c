"""The resources every run of the code location uses, built under the current settings.

The code location (`definitions.py`) serves them; the check-now command
(`automation/check_releases.py`) runs its jobs with them. Both import this, not each other.
"""

from __future__ import annotations

from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig


def build_resources() -> dict[str, object]:
    return {"duckdb_store": DuckDBStore(), "method": MethodConfig(), "llm": LLMResource()}
