"""The code location: every asset, check, job, sensor, schedule and resource, assembled once."""

import dagster as dg

from mkailin_assets.assets.catalog import ASSETS
from mkailin_assets.automation.benchmark_sensor import benchmark_models_sensor
from mkailin_assets.automation.jobs import JOBS
from mkailin_assets.automation.registry import automation_definitions
from mkailin_assets.automation.run_start import start_runs_warm
from mkailin_assets.automation.slot_claims import guard_slot_claims
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
    # One process per run, its steps in it: a category run's steps depend on one another and
    # take the one DuckDB writer in turn, so a process per step (the multiprocess default) only
    # paid a Python, Dagster and project start-up per step (10-17 s each on a busy two-core
    # machine). Runs still run side by side, each in its own process; pools still apply.
    executor=dg.in_process_executor,
)

# A pool slot has one holder, also when two runs claim it at once (automation/slot_claims.py).
guard_slot_claims()
# In a code server, launched runs start from a warm forkserver (automation/run_start.py).
start_runs_warm()
