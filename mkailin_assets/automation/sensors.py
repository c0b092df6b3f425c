"""Sensors: new PubMed release files, the categories a loaded file changed, finished LLM batches."""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import dagster as dg
import duckdb

from mkailin_assets import settings
from mkailin_assets.automation import releases
from mkailin_assets.automation.conditions import (
    AutomationMode,
    automation_interval_s,
    automation_mode,
    sensor_status,
)
from mkailin_assets.automation.jobs import mesh_vocabulary_job, pubmed_file_job
from mkailin_assets.automation.retries import RETRY_OF_TAG
from mkailin_assets.partitions import CATEGORY_LETTERS, pubmed_file_partitions

PUBMED_FILE_JOB = "pubmed_file_job"
CATEGORY_PIPELINE_JOB = "category_pipeline_job"
RAW_ABSTRACTS_JOB = "raw_abstracts_job"
PUBMED_FILES_KEY = dg.AssetKey("pubmed_files")

RELEASE_SENSOR_NAME = "pubmed_release_sensor"
AFFECTED_SENSOR_NAME = "affected_categories_sensor"
BATCH_SENSOR_NAME = "llm_batch_poll_sensor"

# Run tags: the file's place in NLM's order, and a key a tag concurrency limit can use
# (dagster.yaml: concurrency.runs.tag_concurrency_limits [{key: mkailin/release, limit: 1}]).
RELEASE_TAG = "mkailin/release"
RELEASE_SEQUENCE_TAG = "mkailin/release_sequence"
RELEASE_KIND_TAG = "mkailin/release_kind"

# One tick registers at most this many files (a first look at NLM lists ~1,300 baseline files
# plus the year's updates); the cursor carries the rest to the next tick.
MAX_FILES_PER_TICK = 200
_RELEASE_YEAR = re.compile(r"^pubmed(\d{2})n\d{4}")


class ReleaseFileLike(Protocol):
    """What mkailin_assets.ingest.sources.ReleaseFile provides that the sensor uses."""

    name: str
    kind: str


ListReleaseFiles = Callable[[str], Sequence[ReleaseFileLike]]


def default_list_release_files(source: str) -> Sequence[ReleaseFileLike]:
    # Imported when called so that loading the code location never pays for (or fails on) it.
    from mkailin_assets.ingest.sources import list_release_files

    return list_release_files(source)


# ---- release files ------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseCheck:
    """The outcome of one look at the PubMed source."""

    new_files: list[ReleaseFileLike]
    sequences: dict[str, int]  # file name -> position in the listing (NLM's application order)
    cursor: str | None  # the last file registered, or the previous cursor when nothing is new


def release_year(name: str) -> int | None:
    match = _RELEASE_YEAR.match(name)
    return int(match[1]) if match else None


def files_after_cursor(
    listing: Sequence[ReleaseFileLike], cursor: str | None
) -> list[ReleaseFileLike]:
    """Files listed after the cursor, plus any of a later release year (a new baseline set,
    which a listing ordered baseline-first may place before last year's updates). When the
    cursor file is no longer listed (NLM drops last year's files once a new baseline is out),
    release names still sort in application order (pubmedYYnNNNN), so compare by name."""
    if cursor is None:
        return list(listing)
    names = [release.name for release in listing]
    cursor_year = release_year(cursor)
    position = names.index(cursor) if cursor in names else None

    def is_after(index: int, release: ReleaseFileLike) -> bool:
        year = release_year(release.name)
        if cursor_year is not None and year is not None and year > cursor_year:
            return True
        return index > position if position is not None else release.name > cursor

    return [release for index, release in enumerate(listing) if is_after(index, release)]


def check_releases(
    listing: Sequence[ReleaseFileLike],
    registered: Iterable[str],
    cursor: str | None,
    limit: int = MAX_FILES_PER_TICK,
) -> ReleaseCheck:
    """The files to register now, in listing order: after the cursor and not yet a partition."""
    known = set(registered)
    fresh = [r for r in files_after_cursor(listing, cursor) if r.name not in known][:limit]
    sequences = {release.name: index for index, release in enumerate(listing, start=1)}
    return ReleaseCheck(fresh, sequences, fresh[-1].name if fresh else cursor)


def release_run_request(
    release: ReleaseFileLike, sequence: int, failed_runs: int = 0
) -> dg.RunRequest:
    """One pubmed_file_job run per file and attempt: run_key = file name for the first run (a
    file never runs twice at once), file name + attempt for a retry after a failed run."""
    attempt = failed_runs + 1
    return dg.RunRequest(
        job_name=PUBMED_FILE_JOB,
        run_key=release.name if attempt == 1 else f"{release.name}:attempt{attempt}",
        partition_key=release.name,
        tags={
            RELEASE_TAG: "pubmed",
            RELEASE_SEQUENCE_TAG: f"{sequence:06d}",
            RELEASE_KIND_TAG: str(release.kind),
            releases.ATTEMPT_TAG: str(attempt),
            # Ahead of queued category refreshes: a refresh queued before a file loads would
            # only have to run again after it.
            "dagster/priority": releases.RELEASE_PRIORITY,
        },
    )


@dataclass(frozen=True)
class ReleasePlan:
    """What one look at the source decides: new files to register, runs to request (new files
    and retries, in NLM's order), or why it waits."""

    check: ReleaseCheck
    requests: list[dg.RunRequest]
    retries: list[str]
    waiting: str | None = None  # set when release files wait for the MeSH vocabulary

    @property
    def new_names(self) -> list[str]:
        return [release.name for release in self.check.new_files]

    def summary(self) -> str:
        if self.waiting:
            return self.waiting
        parts = []
        if self.new_names:
            parts.append(f"{len(self.new_names)} new release file(s): {', '.join(self.new_names)}")
        if self.retries:
            parts.append(f"retrying {', '.join(self.retries)} after a failed or cancelled run")
        return "; ".join(parts) or "no new release files and none to retry"


def _waiting_for_vocabulary(
    state: releases.ReleaseState, cursor: str | None, max_attempts: int
) -> ReleasePlan:
    """Release files wait until the vocabulary is loaded: loaded earlier, their citations could
    not be placed in any category and no category would be refreshed (issue: first start)."""
    nothing = ReleaseCheck([], {}, cursor)
    why = "release files wait for the MeSH vocabulary (asset mesh_vocabulary)"
    if state.vocabulary_runs_in_flight:
        return ReleasePlan(nothing, [], [], f"{why}: it is loading")
    missing = releases.mesh_source_missing()
    if missing:
        return ReleasePlan(nothing, [], [], f"{why}: {missing}")
    if state.vocabulary_failures >= max_attempts:
        raise releases.ReleaseRetriesExhausted(
            f"mesh_vocabulary failed {state.vocabulary_failures} times; release files wait. "
            "Fix MKAILIN_MESH_SOURCE and materialize mesh_vocabulary from the UI."
        )
    request = releases.vocabulary_run_request(state)
    return ReleasePlan(nothing, [request], [], f"{why}: requested a mesh_vocabulary run")


def plan_release_check(
    instance: dg.DagsterInstance,
    cursor: str | None,
    list_files: ListReleaseFiles,
    source: str | None = None,
    limit: int = MAX_FILES_PER_TICK,
    max_attempts: int | None = None,
) -> ReleasePlan:
    """The whole decision of one look; raises ReleaseRetriesExhausted when a file (or the
    vocabulary) failed every attempt."""
    max_attempts = max_attempts or releases.release_max_attempts()
    state = releases.release_state(instance)
    if not state.vocabulary_loaded:
        return _waiting_for_vocabulary(state, cursor, max_attempts)
    listing = list(list_files(source or settings.get_settings().pubmed_source))
    registered = releases.registered_files(instance)
    # A tick cut short (the daemon killed after it registered partitions, before its runs and
    # cursor were saved) leaves files after the cursor registered with no run: request them.
    check = check_releases(
        listing, registered - releases.never_run(registered, state), cursor, limit
    )
    retries = releases.retry_candidates([r.name for r in listing], registered, state)
    exhausted = {name: n for name, n in retries.items() if n >= max_attempts}
    if exhausted:
        raise releases.ReleaseRetriesExhausted(
            releases.exhausted_message(exhausted, state, max_attempts)
        )
    wanted = set(retries) | {release.name for release in check.new_files}
    requests = [
        release_run_request(r, check.sequences[r.name], retries.get(r.name, 0))
        for r in listing
        if r.name in wanted
    ]
    return ReleasePlan(check, requests, list(retries))


def look_for_releases(
    instance: dg.DagsterInstance,
    cursor: str | None,
    list_files: ListReleaseFiles,
    source: str | None = None,
    limit: int = MAX_FILES_PER_TICK,
) -> tuple[ReleaseCheck, list[dg.RunRequest]]:
    """The release check as (new files, run requests): see plan_release_check."""
    plan = plan_release_check(instance, cursor, list_files, source, limit)
    return plan.check, plan.requests


def build_pubmed_release_sensor(
    list_files: ListReleaseFiles = default_list_release_files,
    running: bool = True,
    minimum_interval_seconds: int | None = None,
) -> dg.SensorDefinition:
    interval = minimum_interval_seconds or releases.release_check_interval_s()

    @dg.sensor(
        name=RELEASE_SENSOR_NAME,
        jobs=[pubmed_file_job, mesh_vocabulary_job],
        minimum_interval_seconds=interval,
        default_status=sensor_status(running),
        description=(
            f"Every {interval}s (MKAILIN_RELEASE_CHECK_INTERVAL): loads the MeSH vocabulary first "
            "if it is missing, then lists MKAILIN_PUBMED_SOURCE, registers new release files as "
            "pubmed_files partitions and requests one run per file in NLM's order; a file whose "
            "run failed or was cancelled is requested again, up to MKAILIN_RELEASE_MAX_ATTEMPTS "
            "runs. Check now: python -m mkailin_assets.automation.check_releases"
        ),
    )
    def pubmed_release_sensor(context: dg.SensorEvaluationContext):
        plan = plan_release_check(context.instance, context.cursor, list_files)
        if not plan.requests:
            return dg.SkipReason(
                plan.summary() + (f" (after {context.cursor})" if context.cursor else "")
            )
        context.log.info(plan.summary())
        additions = (
            [pubmed_file_partitions.build_add_request(plan.new_names)] if plan.new_names else []
        )
        return dg.SensorResult(
            run_requests=plan.requests,
            dynamic_partitions_requests=additions,
            cursor=plan.check.cursor,
        )

    return pubmed_release_sensor


# ---- affected categories ------------------------------------------------------------------
@dataclass(frozen=True)
class AffectedCategories:
    categories: list[str]  # in CATEGORY_LETTERS order
    last_storage_id: int | None  # the newest pubmed_files materialization read
    materializations: int
    # When the oldest and the newest of them were recorded (Unix seconds, the event's timestamp).
    first_at: float | None = None
    last_at: float | None = None


def parse_categories(raw: object) -> set[str]:
    """The asset writes "C,D"; anything that is not a category letter is ignored."""
    value = getattr(raw, "value", raw)
    if not isinstance(value, str):
        return set()
    return {part.strip() for part in value.split(",") if part.strip() in CATEGORY_LETTERS}


def affected_since(
    instance: dg.DagsterInstance, after_storage_id: int | None, limit: int = 1000
) -> AffectedCategories:
    """Union of "affected_categories" over pubmed_files materializations newer than the cursor."""
    found: set[str] = set()
    last = after_storage_id
    count = 0
    first_at: float | None = None
    last_at: float | None = None
    page_cursor = None
    while True:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=PUBMED_FILES_KEY, after_storage_id=after_storage_id),
            limit=limit,
            cursor=page_cursor,
            ascending=True,
        )
        for record in result.records:
            materialization = record.asset_materialization
            if materialization is not None:
                found |= parse_categories(materialization.metadata.get("affected_categories"))
            last = record.storage_id if last is None else max(last, record.storage_id)
            first_at = record.timestamp if first_at is None else min(first_at, record.timestamp)
            last_at = record.timestamp if last_at is None else max(last_at, record.timestamp)
            count += 1
        if not result.has_more:
            break
        page_cursor = result.cursor
    ordered = [letter for letter in CATEGORY_LETTERS if letter in found]
    return AffectedCategories(ordered, last, count, first_at, last_at)


@dataclass(frozen=True)
class QuietPeriod:
    """How long the refresh waits for more release files (MKAILIN_REFRESH_QUIET_S) and at most
    (MKAILIN_REFRESH_MAX_WAIT_S). Files that land one after another each change many
    categories: refreshing after each file would refresh those categories once per file."""

    quiet_s: float
    max_wait_s: float

    @classmethod
    def from_settings(cls) -> QuietPeriod:
        current = settings.get_settings()
        return cls(current.refresh_quiet_s, current.refresh_max_wait_s)

    def wait_s(self, affected: AffectedCategories, now: float) -> float:
        """Seconds before these materializations' refreshes may be requested; 0 = now: the
        newest is `quiet_s` old, or the oldest `max_wait_s` old (files arriving steadily never
        put the refresh off for longer). An event stamped later than `now` (another machine's
        clock) counts as just recorded."""
        if self.quiet_s <= 0 or affected.last_at is None or affected.first_at is None:
            return 0.0
        newest_age = max(0.0, now - affected.last_at)
        oldest_age = max(0.0, now - affected.first_at)
        return max(0.0, min(self.quiet_s - newest_age, self.max_wait_s - oldest_age))

    def check_interval_s(self) -> int:
        """The sensor's interval by default: a tenth of the quiet period (5 to 60 s), so the
        refresh is requested at most that long after the quiet period ends."""
        return 60 if self.quiet_s <= 0 else int(min(60, max(5, self.quiet_s // 10)))


Clock = Callable[[], float]


def release_runs_in_flight(instance: dg.DagsterInstance) -> int:
    return instance.get_runs_count(
        dg.RunsFilter(job_name=PUBMED_FILE_JOB, statuses=releases.IN_FLIGHT)
    )


def category_run_requests(categories: Sequence[str], storage_id: int) -> list[dg.RunRequest]:
    return [
        dg.RunRequest(
            run_key=f"{category}:{storage_id}",
            partition_key=category,
            tags={"mkailin/trigger": "pubmed_files", "mkailin/pubmed_storage_id": str(storage_id)},
        )
        for category in categories
    ]


def quiet_skip_reason(
    affected: AffectedCategories, categories: Sequence[str], wait_s: float, quiet: QuietPeriod
) -> str:
    covered = [c for c in affected.categories if c not in categories]
    return (
        f"{affected.materializations} release file(s) loaded and not yet refreshed changed "
        f"{','.join(affected.categories)}"
        + (f" ({','.join(covered)} already with a run waiting to start)" if covered else "")
        + f": refresh of {','.join(categories)} requested in {math.ceil(wait_s)}s, once no file "
        f"has loaded for {quiet.quiet_s:g}s (MKAILIN_REFRESH_QUIET_S) or at the latest "
        f"{quiet.max_wait_s:g}s after the first (MKAILIN_REFRESH_MAX_WAIT_S)"
    )


def build_affected_categories_sensor(
    mode: AutomationMode | None = None,
    minimum_interval_seconds: int | None = None,
    clock: Clock = time.time,
) -> dg.SensorDefinition:
    """`clock` gives the time the materializations' ages are measured at (tests move it)."""
    mode = mode or automation_mode()
    minimum_interval_seconds = minimum_interval_seconds or automation_interval_s(
        QuietPeriod.from_settings().check_interval_s()
    )
    # In "eager" mode the automation-condition sensor carries the stages below raw_abstracts.
    job_name = RAW_ABSTRACTS_JOB if mode == "eager" else CATEGORY_PIPELINE_JOB

    @dg.sensor(
        name=AFFECTED_SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=sensor_status(mode != "off"),
        description=(
            f"After pubmed_files loads, refreshes ({job_name}) only the category partitions the "
            "files changed, read from their 'affected_categories' metadata, once no file has "
            "loaded for MKAILIN_REFRESH_QUIET_S seconds (at the latest MKAILIN_REFRESH_MAX_WAIT_S "
            "after the first), so a burst of files costs one refresh per category."
        ),
    )
    def affected_categories_sensor(context: dg.SensorEvaluationContext):
        after = int(context.cursor) if context.cursor else None
        # A burst of update files becomes one refresh per category once the queue drains.
        busy = release_runs_in_flight(context.instance)
        if busy:
            return dg.SkipReason(f"{busy} pubmed_file_job run(s) still queued or running")
        affected = affected_since(context.instance, after)
        if affected.last_storage_id is None or affected.last_storage_id == after:
            return dg.SkipReason("no new pubmed_files materializations")
        cursor = str(affected.last_storage_id)
        if not affected.categories:
            return dg.SensorResult(
                skip_reason=f"{affected.materializations} file(s) loaded, no category changed",
                cursor=cursor,
            )
        waiting = categories_waiting(context.instance, job_name)
        categories = [c for c in affected.categories if c not in waiting]
        if not categories:
            return dg.SensorResult(
                skip_reason=f"every changed category already has a run waiting to start: "
                f"{','.join(affected.categories)}",
                cursor=cursor,
            )
        # More files may follow (a day's update files land together): wait until none has
        # loaded for the quiet period. The cursor stays, so these files are read again.
        quiet = QuietPeriod.from_settings()
        wait_s = quiet.wait_s(affected, clock())
        if wait_s > 0:
            return dg.SkipReason(quiet_skip_reason(affected, categories, wait_s, quiet))
        return dg.SensorResult(
            run_requests=category_run_requests(categories, affected.last_storage_id),
            cursor=cursor,
        )

    return affected_categories_sensor


def categories_waiting(instance: dg.DagsterInstance, job_name: str) -> set[str]:
    """Categories with a refresh queued and not yet started: it reads the corpus when it starts,
    so it covers the files loaded meanwhile and a second run would only repeat it. A queued
    re-execution (a retry from failure) does not count: it may skip raw_abstracts."""
    runs = instance.get_runs(
        dg.RunsFilter(
            job_name=job_name,
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
        )
    )
    return {
        run.tags[releases.PARTITION_TAG]
        for run in runs
        if releases.PARTITION_TAG in run.tags and RETRY_OF_TAG not in run.tags
    }


# ---- LLM batches --------------------------------------------------------------------------
def _is_lock_error(error: duckdb.Error) -> bool:
    return "lock" in str(error).lower()


def batch_run_key(category: str, batch_ids: Sequence[str]) -> str:
    digest = hashlib.sha256(",".join(sorted(batch_ids)).encode()).hexdigest()[:16]
    return f"{category}:batch:{digest}"


def poll_llm_batches(log: Any) -> tuple[Any, list[str]] | str:
    """Collect finished batches into llm_calls; returns (report, categories) or why it skipped."""
    try:
        from mkailin_assets.llm.batch import poll_batches
        from mkailin_assets.llm.config import LLMConfig
    except ImportError as error:
        return f"LLM batch mode is not available: {error}"
    from mkailin_assets.db import apply_schema, open_connection

    config = LLMConfig.from_env()
    try:
        # Sensors run outside the duckdb pool: never wait long for a writer, try next tick.
        con = open_connection(settings.get_settings().duckdb_path, lock_timeout_s=5.0)
    except duckdb.IOException as error:
        if _is_lock_error(error):
            return "DuckDB is busy with a writer; polling on the next tick"
        raise
    try:
        apply_schema(con)
        report = poll_batches(config, con, logger=log)
        categories = [
            row[0]
            for row in con.execute(
                "SELECT DISTINCT category FROM raw_abstracts ORDER BY category"
            ).fetchall()
        ]
    finally:
        con.close()
    return report, categories


def build_llm_batch_poll_sensor(
    mode: AutomationMode | None = None, minimum_interval_seconds: int = 300
) -> dg.SensorDefinition:
    mode = mode or automation_mode()
    try:
        from mkailin_assets.llm.config import LLMConfig

        batch_mode = LLMConfig.from_env().batch_mode
    except Exception:  # an unreadable LLM config must not break the code location
        batch_mode = False

    @dg.sensor(
        name=BATCH_SENSOR_NAME,
        job_name=CATEGORY_PIPELINE_JOB,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=sensor_status(batch_mode and mode != "off"),
        description=(
            "Batch mode (MKAILIN_LLM_BATCH_MODE): collects finished OpenAI batches into the LLM "
            "cache, then re-runs the category pipelines, which now answer from the cache."
        ),
    )
    def llm_batch_poll_sensor(context: dg.SensorEvaluationContext):
        outcome = poll_llm_batches(context.log)
        if isinstance(outcome, str):
            return dg.SkipReason(outcome)
        report, categories = outcome
        if not report.has_new_results:
            return dg.SkipReason(f"{len(report.running)} batch(es) still running")
        return [
            dg.RunRequest(
                run_key=batch_run_key(category, report.collected),
                partition_key=category,
                tags={"mkailin/trigger": "llm_batch"},
            )
            for category in categories
        ]

    return llm_batch_poll_sensor
