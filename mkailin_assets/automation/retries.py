"""Runs cut short resume by themselves: a failed run whose cause goes away by waiting is
requested again, for what it had not materialized yet, after a delay that doubles each time.

Why a sensor and not Dagster's own run retries (`run_retries` in dagster.yaml, the
`dagster/max_retries` tag): the retry daemon relaunches at once, with no delay, and decides at
the moment of failure from one flag (`retry_on_asset_or_op_failure`) whether a step failure
counts, so it cannot wait out a model server that went away for two minutes, nor tell a model
server that is down from a blocking data check. Here:

- retried (transient): the worker died (dead_run_sensor), the platform was stopped on purpose
  (dev.sh), the model server was unreachable or timed out, the failure-rate gate tripped (the
  failures are recorded and a re-run sends only them), a DuckDB lock wait ran out, the run failed
  outside its steps (launch, start timeout);
- not retried (permanent): a blocking data check, a bad release or MeSH file, the LLM budget,
  a run cancelled by hand, any failure not known to be transient.

The retry is a new run of the same partition over the failed run's assets that did not
materialize (retry from failure, at asset level); paid answers are in the LLM cache and are not
sent again. Its delay is MKAILIN_RUN_RETRY_DELAY × 2^(n-1), at most an hour; after
MKAILIN_RUN_MAX_RETRIES the failed run is tagged `mkailin/retry: exhausted ...` with its reason,
and the category's staleness check shows it red. Release files (pubmed_file_job) and the MeSH
vocabulary have their own retries in pubmed_release_sensor and are left to it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.automation.conditions import sensor_status
from mkailin_assets.automation.dead_runs import (
    CAUSE_TAG,
    STOPPED_TAG,
    WORKER_CHECK_TAG,
    WORKER_GONE,
)
from mkailin_assets.automation.run_workers import HOST_TAG, PID_TAG

SENSOR_NAME = "run_retry_sensor"
RETRY_TAG = "mkailin/retry"  # on a failed run: the decision, once taken
RETRY_OF_TAG = "mkailin/retry_of"
RETRY_NUMBER_TAG = "mkailin/retry_number"
ROOT_RUN_TAG = "mkailin/root_run"
OWN_RETRIES = {"pubmed_file_job", "mesh_vocabulary_job"}  # pubmed_release_sensor retries these
MAX_DELAY_S = 3600
LOOKBACK_S = 3 * 24 * 3600
_NOT_CARRIED = {
    PID_TAG,
    HOST_TAG,
    CAUSE_TAG,
    WORKER_CHECK_TAG,
    STOPPED_TAG,
    RETRY_TAG,
    RETRY_OF_TAG,
    RETRY_NUMBER_TAG,
    ROOT_RUN_TAG,
}

# Exception class names, anywhere in the error's chain of causes.
_PERMANENT_CLASSES = {
    "BudgetExhausted",
    "FileFormatError",
    "PubMedFormatError",
    "MeshFormatError",
    "MeshYearMismatchError",
    "ChecksumMismatchError",
    "UnsafeFileNameError",
    "ReleaseOrderError",
    "MeshVocabularyMissingError",
    "DagsterInvalidConfigError",
}
_TRANSIENT_CLASSES = {
    "APIConnectionError",
    "APITimeoutError",
    "RateLimitError",
    "InternalServerError",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "RemoteProtocolError",
    "TimeoutError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "LLMFailureRateExceeded",
}
_TRANSIENT_TEXT = ("Could not set lock", "Conflicting lock", "Connection refused")
# Blocking checks that fail because LLM calls failed (a model server away, timeouts): every
# failure is recorded, and a re-run asks only the failed items again.
_TRANSIENT_CHECKS = {"failure_rate_acceptable"}
# Dagster lists them one asset a line: "candidate_qa: check_a,check_b".
_FAILED_CHECKS = re.compile(r"^[^:\n]+: ([\w,]+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Cause:
    transient: bool
    reason: str


def _chain(error: object) -> list[object]:
    found = []
    while error is not None and len(found) < 10:
        found.append(error)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return found


def classify_error(error: object) -> Cause:
    """One step's error (a SerializableErrorInfo) -> transient or not, with a short reason."""
    chain = _chain(error)
    head = chain[0] if chain else None
    summary = f"{getattr(head, 'cls_name', '?')}: {(getattr(head, 'message', '') or '').strip()}"
    summary = summary[:300]
    if "blocking asset check" in summary:
        listed = _FAILED_CHECKS.findall(getattr(head, "message", "") or "")
        failed = {name for names in listed for name in names.split(",")}
        if failed and failed <= _TRANSIENT_CHECKS:
            return Cause(True, f"the LLM failure-rate gate failed ({', '.join(sorted(failed))})")
        return Cause(False, f"a blocking data check failed ({summary})")
    for item in chain:
        name = getattr(item, "cls_name", "") or ""
        text = getattr(item, "message", "") or ""
        if name in _PERMANENT_CLASSES or "budget" in text.lower():
            return Cause(False, f"{name}: {text.strip()}"[:300])
    for item in chain:
        name = getattr(item, "cls_name", "") or ""
        text = getattr(item, "message", "") or ""
        if name in _TRANSIENT_CLASSES or any(marker in text for marker in _TRANSIENT_TEXT):
            return Cause(True, f"{name}: {text.strip()}"[:300])
    return Cause(False, f"not known to be transient: {summary}")


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return [
        record.event_log_entry
        for record in instance.get_records_for_run(run_id, of_type=kind, limit=1000).records
    ]


def failure_cause(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Cause:
    if run.tags.get(STOPPED_TAG):
        return Cause(True, f"stopped with the platform ({run.tags[STOPPED_TAG]})")
    if run.tags.get(CAUSE_TAG) == WORKER_GONE:
        return Cause(True, "its worker died")
    if run.status == dg.DagsterRunStatus.CANCELED:
        return Cause(False, "cancelled by hand")
    step_failures = _events(instance, run.run_id, dg.DagsterEventType.STEP_FAILURE)
    causes = [
        classify_error(entry.dagster_event.step_failure_data.error)
        for entry in step_failures
        if entry.dagster_event is not None
    ]
    permanent = [cause for cause in causes if not cause.transient]
    if permanent:
        return permanent[0]
    if causes:
        return causes[0]
    failures = _events(instance, run.run_id, dg.DagsterEventType.RUN_FAILURE)
    message = failures[-1].dagster_event.message if failures else "no failure event"
    return Cause(True, f"the run failed outside its steps: {message}"[:300])


def remaining_assets(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[dg.AssetKey]:
    """The assets the run planned and did not materialize, in plan order."""
    planned = [
        entry.dagster_event.event_specific_data.asset_key
        for entry in _events(
            instance, run.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        )
    ]
    if not planned and run.asset_selection:
        planned = sorted(run.asset_selection, key=lambda key: key.to_user_string())
    done = {
        entry.dagster_event.asset_key
        for entry in _events(instance, run.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)
    }
    return [key for key in dict.fromkeys(planned) if key not in done]


def retry_delay_s(retry_number: int, base_s: int | None = None) -> int:
    base = settings.get_settings().run_retry_delay if base_s is None else base_s
    return min(base * 2 ** max(retry_number - 1, 0), MAX_DELAY_S)


def _superseded_by(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """A later run of the same job and partition (the sensors launched a fresh refresh)."""
    partition = run.tags.get("dagster/partition")
    tags = {"dagster/partition": partition} if partition else {}
    later = instance.get_runs(dg.RunsFilter(job_name=run.job_name, tags=tags), limit=1)
    if later and later[0].run_id != run.run_id:
        return later[0].run_id
    return None


def retry_request(run: dg.DagsterRun, assets: list[dg.AssetKey], number: int) -> dg.RunRequest:
    carried = {
        key: value
        for key, value in run.tags.items()
        if not key.startswith("dagster/") and key not in _NOT_CARRIED
    }
    return dg.RunRequest(
        run_key=f"retry:{run.run_id}",
        asset_selection=assets,
        partition_key=run.tags.get("dagster/partition"),
        tags={
            **carried,
            RETRY_OF_TAG: run.run_id,
            RETRY_NUMBER_TAG: str(number),
            ROOT_RUN_TAG: run.tags.get(ROOT_RUN_TAG, run.run_id),
        },
    )


@dataclass
class RetryPlan:
    requests: list[dg.RunRequest]
    notes: list[str]


def _decide(instance: dg.DagsterInstance, run: dg.DagsterRun, now: float, max_retries: int):
    """(a run request, or None) and a note; tags the run once its fate is settled."""
    number = int(run.tags.get(RETRY_NUMBER_TAG, "0")) + 1
    cause = failure_cause(instance, run)
    if not cause.transient:
        instance.add_run_tags(run.run_id, {RETRY_TAG: f"not retried: {cause.reason}"})
        return None, f"{run.run_id[:8]} not retried: {cause.reason}"
    newer = _superseded_by(instance, run)
    if newer:
        instance.add_run_tags(run.run_id, {RETRY_TAG: f"superseded by run {newer}"})
        return None, f"{run.run_id[:8]} superseded by {newer[:8]}"
    if number > max_retries:
        message = f"exhausted after {max_retries} retries: {cause.reason}"
        instance.add_run_tags(run.run_id, {RETRY_TAG: message})
        return None, f"{run.run_id[:8]} {message}"
    record = instance.get_run_record_by_id(run.run_id)
    ended = (record.end_time if record and record.end_time else None) or now
    wait = ended + retry_delay_s(number) - now
    if wait > 0:
        return None, f"{run.run_id[:8]} retry {number} in {wait:.0f}s ({cause.reason})"
    assets = remaining_assets(instance, run)
    if not assets:
        instance.add_run_tags(run.run_id, {RETRY_TAG: "nothing left to materialize"})
        return None, f"{run.run_id[:8]} nothing left to materialize"
    instance.add_run_tags(run.run_id, {RETRY_TAG: f"retry {number} requested ({cause.reason})"})
    return retry_request(run, assets, number), f"{run.run_id[:8]} retry {number}: {cause.reason}"


def plan_retries(
    instance: dg.DagsterInstance, now: float | None = None, max_retries: int | None = None
) -> RetryPlan:
    now = time.time() if now is None else now
    limit = settings.get_settings().run_max_retries if max_retries is None else max_retries
    runs = instance.get_runs(
        dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
            updated_after=datetime.fromtimestamp(time.time() - LOOKBACK_S, tz=UTC),
        ),
        limit=500,
    )
    plan = RetryPlan([], [])
    for run in runs:
        if run.tags.get(RETRY_TAG) or run.job_name in OWN_RETRIES:
            continue
        request, note = _decide(instance, run, now, limit)
        plan.notes.append(note)
        if request is not None:
            plan.requests.append(request)
    return plan


def build_run_retry_sensor(running: bool = True) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        asset_selection=dg.AssetSelection.all(),
        minimum_interval_seconds=15,
        default_status=sensor_status(running),
        description=(
            "Retries a failed run whose cause goes away by waiting (worker died, model server "
            "unreachable, lock wait ran out) over the assets it did not materialize, after "
            "MKAILIN_RUN_RETRY_DELAY seconds doubling each time, up to MKAILIN_RUN_MAX_RETRIES; "
            "blocking checks, bad files and the budget are not retried. The decision is the "
            "failed run's `mkailin/retry` tag."
        ),
    )
    def run_retry_sensor(context: dg.SensorEvaluationContext):
        plan = plan_retries(context.instance)
        summary = "; ".join(plan.notes) or "no failed run to look at"
        if not plan.requests:
            return dg.SkipReason(summary)
        context.log.info(summary)
        return dg.SensorResult(run_requests=plan.requests)

    return run_retry_sensor
