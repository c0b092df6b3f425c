"""Everything automation contributes to the code location, in one call for definitions.py."""

from __future__ import annotations

from typing import Any

from mkailin_assets.automation.conditions import automation_condition_sensor, automation_mode
from mkailin_assets.automation.dead_runs import build_dead_run_sensor
from mkailin_assets.automation.read_snapshot import build_read_snapshot_sensor
from mkailin_assets.automation.retries import build_run_retry_sensor
from mkailin_assets.automation.schedules import build_release_schedule, release_check_mode
from mkailin_assets.automation.sensors import (
    build_affected_categories_sensor,
    build_llm_batch_poll_sensor,
    build_pubmed_release_sensor,
)
from mkailin_assets.automation.staleness import (
    build_staleness_sensor,
    category_freshness_checks,
    category_staleness_job,
)


def automation_definitions() -> dict[str, list[Any]]:
    """{"sensors": [...], "schedules": [...], "jobs": [...], "asset_checks": [...]}, read from
    MKAILIN_AUTOMATION and MKAILIN_RELEASE_CHECK when the code location loads."""
    mode = automation_mode()
    release_by_schedule = release_check_mode() == "schedule"
    return {
        "sensors": [
            build_pubmed_release_sensor(running=not release_by_schedule),
            build_affected_categories_sensor(mode),
            build_llm_batch_poll_sensor(mode),
            automation_condition_sensor(mode),
            build_read_snapshot_sensor(),
            # Operations that heal: dead runs, retries, staleness (on unless automation is off).
            build_dead_run_sensor(),
            build_run_retry_sensor(mode != "off"),
            build_staleness_sensor(mode != "off"),
        ],
        "jobs": [category_staleness_job],
        "asset_checks": [category_freshness_checks],
        "schedules": [build_release_schedule(running=release_by_schedule)],
    }
