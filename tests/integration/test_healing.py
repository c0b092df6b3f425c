"""Operations that heal, against a real Dagster instance: runs whose worker died are failed and
their pool slots freed (never a live worker's run, never another host's); transient failures are
retried after a doubling delay over what was not materialized, permanent ones never; the
freshness of each category follows the release files."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest
from dagster._core.events import EngineEventData
from dagster._utils.error import SerializableErrorInfo

from mkailin_assets.automation import dead_runs, retries, staleness
from mkailin_assets.automation.launcher import worker_host
from mkailin_assets.automation.run_workers import (
    HOST_TAG,
    PID_TAG,
    Worker,
    run_worker,
    this_host,
    worker_alive,
)

POOL = "duckdb"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def started_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.DagsterRun:
    run = instance.create_run_for_job(
        dg.GraphDefinition(name="g", node_defs=[]).to_job(name="category_pipeline_job"),
        tags=tags,
    )
    instance.report_engine_event("starting", run)
    from dagster._core.events import DagsterEvent, DagsterEventType

    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.PIPELINE_START.value, job_name=run.job_name), run.run_id
    )
    return instance.get_run_by_id(run.run_id)


def claim_slot(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.event_log_storage.set_concurrency_slots(POOL, 1)
    claim = instance.event_log_storage.claim_concurrency_slot(POOL, run_id, "candidate_qa")
    assert claim.is_claimed


def claimed(instance: dg.DagsterInstance) -> int:
    return instance.event_log_storage.get_concurrency_info(POOL).claimed_slots.__len__()


def test_a_run_whose_worker_died_is_failed_and_its_slot_freed(instance):
    run = started_run(instance, {PID_TAG: str(dead_pid()), HOST_TAG: this_host()})
    claim_slot(instance, run.run_id)
    sweep = dead_runs.sweep_dead_runs(instance)
    after = instance.get_run_by_id(run.run_id)
    assert sweep.failed == [run.run_id]
    assert after.status == dg.DagsterRunStatus.FAILURE
    assert after.tags[dead_runs.CAUSE_TAG] == dead_runs.WORKER_GONE
    assert claimed(instance) == 0
    assert dead_runs.sweep_dead_runs(instance).failed == []  # once only


def test_a_live_worker_and_another_hosts_run_are_never_touched(instance):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = started_run(instance, {PID_TAG: str(sleeper.pid), HOST_TAG: this_host()})
        remote = started_run(instance, {PID_TAG: str(dead_pid()), HOST_TAG: "elsewhere"})
        unknown = started_run(instance, {})  # no pid, no host: not ours to judge
        claim_slot(instance, live.run_id)
        sweep = dead_runs.sweep_dead_runs(instance)
        assert sweep.alive == [live.run_id]
        assert set(sweep.unchecked) == {remote.run_id, unknown.run_id}
        for run in (live, remote, unknown):
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
        assert "elsewhere" in instance.get_run_by_id(remote.run_id).tags[dead_runs.WORKER_CHECK_TAG]
        assert claimed(instance) == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_worker_pid_comes_from_its_start_event_and_a_reused_pid_is_dead(instance):
    run = started_run(instance, {HOST_TAG: this_host()})
    instance.report_engine_event(
        f"Started process for run (pid: {dead_pid()}).", run, EngineEventData.in_process(4242)
    )
    worker = run_worker(instance, run)
    assert worker.pid == 4242 and worker.host == this_host()
    # This process lives, but started long after a worker that claims to have started at 0.
    assert worker_alive(Worker(pid=__import__("os").getpid(), host=None, started_at=None))
    assert not worker_alive(Worker(pid=__import__("os").getpid(), host=None, started_at=0.0))


def test_a_stopped_platform_ends_its_runs_cancelled_and_they_are_retried(instance):
    run = started_run(instance, {PID_TAG: str(dead_pid()), HOST_TAG: this_host()})
    sweep = dead_runs.sweep_dead_runs(instance, stopped=True)
    after = instance.get_run_by_id(run.run_id)
    assert sweep.canceled == [run.run_id]
    assert after.status == dg.DagsterRunStatus.CANCELED
    assert retries.failure_cause(instance, after).transient


def test_launched_runs_on_a_local_code_server_carry_this_host():
    assert worker_host("localhost", None) == this_host()
    assert worker_host(None, "/tmp/grpc.sock") == this_host()
    assert worker_host("10.0.0.7", None) == "10.0.0.7"


# ---- retries ------------------------------------------------------------------------------
def error(cls_name: str, message: str, cause=None) -> SerializableErrorInfo:
    return SerializableErrorInfo(message=message, stack=[], cls_name=cls_name, cause=cause)


@pytest.mark.parametrize(
    ("failure", "transient"),
    [
        (error("APIConnectionError", "Connection error."), True),
        (error("DagsterExecutionStepExecutionError", "step", error("APITimeoutError", "")), True),
        (error("LLMFailureRateExceeded", "12 of 40 items failed (30%)"), True),
        (error("IOException", 'IO Error: Could not set lock on file "x": Conflicting lock'), True),
        (error("BudgetExhausted", "budget of $5.00 reached"), False),
        (error("PubMedFormatError", "pubmed26n0001.xml.gz: truncated"), False),
        (error("DagsterAssetCheckFailedError", "1 blocking asset check failed with ERROR"), False),
        (
            error(
                "DagsterAssetCheckFailedError",
                "1 blocking asset check failed with ERROR severity:\ncandidate_qa: "
                "failure_rate_acceptable\n",
            ),
            True,
        ),
        (
            error(
                "DagsterAssetCheckFailedError",
                "2 blocking asset checks failed with ERROR severity:\ncandidate_qa: "
                "failure_rate_acceptable,questions_valid",
            ),
            False,
        ),
        (error("KeyError", "'question'"), False),
    ],
)
def test_failures_are_sorted_into_transient_and_permanent(failure, transient):
    assert retries.classify_error(failure).transient is transient


partitions = dg.StaticPartitionsDefinition(["C", "D"])
CALLS = {"n": 0}


@dg.asset(partitions_def=partitions)
def first_stage() -> int:
    return 1


@dg.asset(partitions_def=partitions, deps=[first_stage])
def second_stage() -> int:
    CALLS["n"] += 1
    raise ConnectionRefusedError("model server unreachable")


@dg.asset(partitions_def=partitions)
def over_budget() -> int:
    raise type("BudgetExhausted", (RuntimeError,), {})("budget reached")


def failed_run(instance, assets, partition="C", tags=None) -> dg.DagsterRun:
    result = dg.materialize(
        assets, instance=instance, partition_key=partition, raise_on_error=False, tags=tags or {}
    )
    assert not result.success
    return instance.get_run_by_id(result.run_id)


def test_a_transient_failure_is_retried_after_a_doubling_delay_for_what_is_left(instance):
    run = failed_run(instance, [first_stage, second_stage], tags={"mkailin/trigger": "x"})
    ended = instance.get_run_record_by_id(run.run_id).end_time
    early = retries.plan_retries(instance, now=ended + 1, max_retries=3)
    assert early.requests == [] and "retry 1 in" in early.notes[0]
    due = retries.plan_retries(instance, now=ended + retries.retry_delay_s(1) + 1, max_retries=3)
    (request,) = due.requests
    assert request.asset_selection == [dg.AssetKey("second_stage")]
    assert request.partition_key == "C"
    assert request.tags[retries.RETRY_NUMBER_TAG] == "1"
    assert request.tags["mkailin/trigger"] == "x"
    assert request.run_key == f"retry:{run.run_id}"
    assert retries.plan_retries(instance, now=ended + 10_000).requests == []  # decided once
    assert retries.retry_delay_s(3, base_s=30) == 120
    assert retries.retry_delay_s(20, base_s=30) == retries.MAX_DELAY_S


def test_after_the_cap_the_failure_is_tagged_with_its_reason(instance):
    run = failed_run(instance, [first_stage, second_stage], tags={retries.RETRY_NUMBER_TAG: "3"})
    plan = retries.plan_retries(instance, now=10**10, max_retries=3)
    assert plan.requests == []
    tag = instance.get_run_by_id(run.run_id).tags[retries.RETRY_TAG]
    assert tag.startswith("exhausted after 3 retries") and "model server unreachable" in tag


def test_a_permanent_failure_is_never_retried(instance):
    run = failed_run(instance, [over_budget])
    plan = retries.plan_retries(instance, now=10**10, max_retries=3)
    assert plan.requests == []
    assert instance.get_run_by_id(run.run_id).tags[retries.RETRY_TAG].startswith("not retried")


# ---- freshness ----------------------------------------------------------------------------
def materialize(instance, key: str, partition: str, metadata=None) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=key, partition=partition, metadata=metadata or {})
    )


def states(instance) -> dict[str, tuple[str | None, str]]:
    return {r.category: (r.covered_file, r.state) for r in staleness.freshness_table(instance)}


def test_a_category_is_due_after_a_file_that_changed_it_and_up_to_date_after_its_refresh(
    instance,
):
    instance.add_dynamic_partitions("pubmed_files", ["f1", "f2", "f3"])
    materialize(instance, "pubmed_files", "f1", {"affected_categories": "C,D"})
    assert states(instance)["C"] == (None, "due")
    for key in ("raw_abstracts", "training_set"):
        materialize(instance, key, "C")
    assert states(instance)["C"] == ("f1", "up to date")
    assert states(instance)["D"] == (None, "due")
    assert states(instance)["E"][1] == "no data"
    materialize(instance, "pubmed_files", "f2", {"affected_categories": "D"})
    assert states(instance)["C"] == ("f1", "up to date")  # f2 did not change C
    materialize(instance, "pubmed_files", "f3", {"affected_categories": "C"})
    table = staleness.freshness_table(instance)
    row = next(r for r in table if r.category == "C")
    assert (row.latest_file, row.covered_file, row.state) == ("f3", "f1", "due")
    assert "C" in staleness.render_table(table) and staleness.digest(table)


# ---- the daemon killed while the release sensor registers partitions ---------------------------
def test_files_registered_by_a_tick_cut_short_are_requested_by_the_next(instance):
    from mkailin_assets.automation.sensors import build_pubmed_release_sensor
    from tests.integration.test_sensors import Source, tick, updates

    instance.report_runless_asset_event(dg.AssetMaterialization("mesh_vocabulary"))
    names = [release.name for release in updates(25, 1, 3)]
    sensor = build_pubmed_release_sensor(Source(updates(25, 1, 3)))
    # The tick registered the partitions, then the daemon died: no run, no cursor saved.
    instance.add_dynamic_partitions("pubmed_files", names)
    requests, cursor = tick(sensor, instance, None)
    assert [r.partition_key for r in requests] == names
    assert [r.run_key for r in requests] == names  # first attempts: a file never runs twice
    assert cursor == names[-1]


def test_the_staleness_sensor_records_red_checks_without_a_run_and_only_on_change(instance):
    instance.add_dynamic_partitions("pubmed_files", ["f1"])
    materialize(instance, "pubmed_files", "f1", {"affected_categories": "C"})
    sensor = staleness.build_staleness_sensor()
    first = sensor(dg.build_sensor_context(instance=instance))
    assert first.run_requests == [] and "lagging: C due" in first.skip_reason.skip_message
    key = dg.AssetCheckKey(staleness.TRAINING_EXPORT, "C_up_to_date")
    (record,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
    evaluation = record.event.dagster_event.event_specific_data
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["state"].value == "due"
    again = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert again.skip_message == "freshness unchanged"
    assert instance.get_runs_count() == 0


def test_a_finished_run_that_still_holds_a_slot_has_it_freed(instance):
    run = started_run(instance, {PID_TAG: str(dead_pid()), HOST_TAG: this_host()})
    claim_slot(instance, run.run_id)
    instance.report_run_canceled(run, "cancelled mid-step; the step never released its slot")
    assert claimed(instance) == 1
    sweep = dead_runs.sweep_dead_runs(instance)
    assert sweep.slots_freed == [run.run_id] and sweep.failed == []
    assert claimed(instance) == 0
    assert "pool slots of 1 finished run(s) freed" in sweep.summary()
