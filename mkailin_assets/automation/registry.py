"""Everything automation contributes to the code location, in one call for definitions.py."""

from __future__ import annotations

from typing import Any

from mkailin_assets.automation.conditions import automation_condition_sensor, automation_mode
from mkailin_assets.automation.read_snapshot import build_read_snapshot_sensor
from mkailin_assets.automation.schedules import build_release_schedule, release_check_mode
from mkailin_assets.automation.sensors import (
    build_affected_categories_sensor,
    build_llm_batch_poll_sensor,
    build_pubmed_release_sensor,
)


def automation_definitions() -> dict[str, list[Any]]:
    """{"sensors": [...], "schedules": [...]}, read from MKAILIN_AUTOMATION and
    MKAILIN_RELEASE_CHECK when the code location loads."""
    mode = automation_mode()
    release_by_schedule = release_check_mode() == "schedule"
    return {
        "sensors": [
            build_pubmed_release_sensor(running=not release_by_schedule),
            build_affected_categories_sensor(mode),
            build_llm_batch_poll_sensor(mode),
            automation_condition_sensor(mode),
            build_read_snapshot_sensor(),
        ],
        "schedules": [build_release_schedule(running=release_by_schedule)],
    }
