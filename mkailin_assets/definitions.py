"""The code location: every asset, check, job, sensor, schedule and resource, assembled once."""

import dagster as dg

from mkailin_assets.assets.catalog import ASSETS
from mkailin_assets.automation.benchmark_sensor import benchmark_models_sensor
from mkailin_assets.automation.jobs import JOBS
from mkailin_assets.automation.registry import automation_definitions
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig

__all__ = ["ASSETS", "build_resources", "defs"]


def build_resources() -> dict[str, object]:
    return {"duckdb_store": DuckDBStore(), "method": MethodConfig(), "llm": LLMResource()}


automation = automation_definitions()
defs = dg.Definitions(
    assets=ASSETS,
    jobs=JOBS,
    resources=build_resources(),
    sensors=[*automation["sensors"], benchmark_models_sensor],
    schedules=automation["schedules"],
)
