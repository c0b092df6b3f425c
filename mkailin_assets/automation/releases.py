"""What the release check knows from the instance: is the MeSH vocabulary there, which release
files are loaded, in flight, or failed (and how often). The sensor, the daily schedule and the
check-now command (automation/check_releases.py) all decide from this.

A file counts as done only when its pubmed_files partition materialized; one whose run failed or
was cancelled is requested again on the next look, up to MKAILIN_RELEASE_MAX_ATTEMPTS runs, then
the look fails loudly (a failed sensor tick in the UI) instead of moving on: NLM's order rule
means no later file can load before it anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.partitions import pubmed_file_partitions

PUBMED_FILE_JOB = "pubmed_file_job"
MESH_VOCABULARY_JOB = "mesh_vocabulary_job"
PUBMED_FILES_KEY = dg.AssetKey("pubmed_files")
MESH_VOCABULARY_KEY = dg.AssetKey("mesh_vocabulary")
PARTITION_TAG = "dagster/partition"
ATTEMPT_TAG = "mkailin/attempt"
# The queue dequeues higher priorities first: the vocabulary and release files before the
# category refreshes they make due.
RELEASE_PRIORITY = "10"

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
# Runs still holding or about to hold resources: in flight, or being cancelled.
BUSY = [*IN_FLIGHT, dg.DagsterRunStatus.CANCELING]
FAILED = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.CANCELING]


def release_check_interval_s() -> int:
    """MKAILIN_RELEASE_CHECK_INTERVAL: seconds between two looks of pubmed_release_sensor."""
    return settings.get_settings().release_check_interval


def release_max_attempts() -> int:
    """MKAILIN_RELEASE_MAX_ATTEMPTS: runs a release file gets before the check fails loudly."""
    return settings.get_settings().release_max_attempts


class ReleaseRetriesExhausted(RuntimeError):
    """A release file failed every attempt: a person must look (the UI shows a failed tick)."""


@dataclass(frozen=True)
class ReleaseState:
    vocabulary_loaded: bool
    vocabulary_runs_in_flight: int
    vocabulary_failures: int
    loaded: frozenset[str]  # materialized pubmed_files partitions
    in_flight: frozenset[str]  # partitions with a queued or running run
    failures: dict[str, int]  # failed or cancelled runs per partition
    last_failed_run: dict[str, str]  # partition -> id of its latest failed run


def _runs(instance: dg.DagsterInstance, job: str, statuses: list[dg.DagsterRunStatus]):
    return instance.get_runs(dg.RunsFilter(job_name=job, statuses=statuses))


def release_state(instance: dg.DagsterInstance) -> ReleaseState:
    failed_runs = _runs(instance, PUBMED_FILE_JOB, FAILED)  # newest first
    last_failed: dict[str, str] = {}
    for run in failed_runs:
        last_failed.setdefault(run.tags.get(PARTITION_TAG, ""), run.run_id)
    return ReleaseState(
        vocabulary_loaded=instance.get_latest_materialization_event(MESH_VOCABULARY_KEY)
        is not None,
        vocabulary_runs_in_flight=len(_runs(instance, MESH_VOCABULARY_JOB, IN_FLIGHT)),
        vocabulary_failures=len(_runs(instance, MESH_VOCABULARY_JOB, FAILED)),
        loaded=frozenset(instance.get_materialized_partitions(PUBMED_FILES_KEY)),
        in_flight=frozenset(
            run.tags.get(PARTITION_TAG, "") for run in _runs(instance, PUBMED_FILE_JOB, IN_FLIGHT)
        ),
        failures=dict(Counter(run.tags.get(PARTITION_TAG, "") for run in failed_runs)),
        last_failed_run=last_failed,
    )


def retry_candidates(
    listed: Sequence[str], registered: set[str], state: ReleaseState
) -> dict[str, int]:
    """Registered, listed files whose runs all failed or were cancelled: name -> failed runs,
    in listing order. A file with no run at all was registered by hand and is left alone."""
    return {
        name: state.failures[name]
        for name in listed
        if name in registered
        and state.failures.get(name)
        and name not in state.loaded
        and name not in state.in_flight
    }


def never_run(registered: set[str], state: ReleaseState) -> set[str]:
    """Registered files with no run at all: not loaded, none in flight, none failed."""
    return {
        name
        for name in registered
        if name not in state.loaded and name not in state.in_flight and not state.failures.get(name)
    }


def exhausted_message(exhausted: dict[str, int], state: ReleaseState, limit: int) -> str:
    files = ", ".join(
        f"{name} ({count} failed runs, last {state.last_failed_run.get(name, '?')})"
        for name, count in exhausted.items()
    )
    return (
        f"release file(s) failed {limit} times and are no longer retried: {files}. "
        "Later files wait (NLM's order). Fix the cause, then re-launch the partition from the UI "
        f"or raise MKAILIN_RELEASE_MAX_ATTEMPTS (now {limit})."
    )


def mesh_source_missing() -> str | None:
    """Why the MeSH source cannot be read yet (a local path that does not exist), else None."""
    source = settings.get_settings().mesh_source
    if "://" in source:
        return None
    return None if Path(source).exists() else f"MKAILIN_MESH_SOURCE {source} does not exist yet"


def vocabulary_run_request(state: ReleaseState) -> dg.RunRequest:
    return dg.RunRequest(
        job_name=MESH_VOCABULARY_JOB,
        run_key=f"mesh_vocabulary:{state.vocabulary_failures}",
        tags={"mkailin/trigger": "release_check", "dagster/priority": RELEASE_PRIORITY},
    )


def registered_files(instance: dg.DagsterInstance) -> set[str]:
    return set(instance.get_dynamic_partitions(pubmed_file_partitions.name))
