"""Schedules: the release check once a day, at a fixed time.

In dagster 1.13.27 a schedule cannot return dynamic-partition requests (ScheduleEvaluationContext
accepts only RunRequest / SkipReason), so the daily check registers the new file names through
the instance itself before requesting their runs. It has no cursor: the registered partitions are
its memory, and run_key = file name keeps a file from running twice. MKAILIN_RELEASE_CHECK picks
which of the two (hourly sensor, daily schedule) starts running; both are safe together.
"""

from __future__ import annotations

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.automation.sensors import (
    PUBMED_FILE_JOB,
    ListReleaseFiles,
    default_list_release_files,
    look_for_releases,
)
from mkailin_assets.partitions import pubmed_file_partitions
from mkailin_assets.settings import ReleaseCheckMode

RELEASE_SCHEDULE_NAME = "pubmed_release_daily"
# NLM posts the day's update files overnight (US Eastern); 07:00 UTC is after that.
RELEASE_CRON = "0 7 * * *"


def release_check_mode() -> ReleaseCheckMode:
    """The MKAILIN_RELEASE_CHECK setting (validated by the settings model)."""
    return settings.get_settings().release_check


def build_release_schedule(
    list_files: ListReleaseFiles = default_list_release_files, running: bool = False
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=RELEASE_SCHEDULE_NAME,
        cron_schedule=RELEASE_CRON,
        execution_timezone="UTC",
        job_name=PUBMED_FILE_JOB,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if running
        else dg.DefaultScheduleStatus.STOPPED,
        description="Once a day: the same release check as pubmed_release_sensor.",
    )
    def pubmed_release_daily(context: dg.ScheduleEvaluationContext):
        check, requests = look_for_releases(context.instance, None, list_files)
        if not requests:
            return dg.SkipReason("no new release files")
        names = [release.name for release in check.new_files]
        context.instance.add_dynamic_partitions(pubmed_file_partitions.name, names)
        context.log.info(f"registered {len(names)} release file(s): {names[0]} … {names[-1]}")
        return requests

    return pubmed_release_daily
