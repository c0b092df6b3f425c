"""The code location: every asset, check, job, sensor, schedule and resource, assembled once."""

import dagster as dg

from mkailin_assets.assets.catalog import ASSETS
from mkailin_assets.automation.benchmark_sensor import benchmark_models_sensor
from mkailin_assets.automation.jobs import JOBS
from mkailin_assets.automation.registry import automation_definitions
from mkailin_assets.resources.catalog import build_resources

__all__ = ["ASSETS", "JOBS", "build_resources", "defs"]


automation = automation_definitions()
defs = dg.Definitions(
    assets=ASSETS,
    jobs=[*JOBS, *automation["jobs"]],
    asset_checks=automation["asset_checks"],
    resources=build_resources(),
    sensors=[*automation["sensors"], benchmark_models_sensor],
    schedules=automation["schedules"],
)
