"""Runs whose worker died: marked failed (or cancelled, after a stop) and their pool slots freed.

After an unclean stop (reboot, OOM killer, `kill -9` of `dagster dev`) a run stays STARTED for
good: the default run launcher has no worker health check, so Dagster's run monitoring cannot
see it, and the `duckdb` pool slot its step claimed stays claimed, freezing every run behind it.
`dead_run_sensor` sweeps the in-flight runs at the daemon's start and every
MKAILIN_DEAD_RUN_CHECK_INTERVAL seconds; `./scripts/dev.sh` sweeps before it starts and after it
stops. A run whose worker lives is never touched; a run on another host is only labelled (the
`mkailin/worker_check` tag in the UI), since its process cannot be checked from here.

    python -m mkailin_assets.automation.dead_runs [--stopped]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.automation.conditions import sensor_status
from mkailin_assets.automation.instance_errors import instance_write_problem
from mkailin_assets.automation.run_workers import Worker, run_worker, this_host, worker_alive

SENSOR_NAME = "dead_run_sensor"
CAUSE_TAG = "mkailin/failure_cause"
WORKER_CHECK_TAG = "mkailin/worker_check"
STOPPED_TAG = "mkailin/stopped_by"
WORKER_GONE = "worker_gone"
# STARTING is left to Dagster's run monitoring (start_timeout_seconds in dagster.yaml) until its
# worker has written a pid; QUEUED runs have no worker yet.
IN_FLIGHT = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass
class Sweep:
    failed: list[str] = field(default_factory=list)  # run ids marked failed
    canceled: list[str] = field(default_factory=list)  # run ids marked cancelled
    alive: list[str] = field(default_factory=list)
    unchecked: dict[str, str] = field(default_factory=dict)  # run id -> why not checkable
    slots_freed: list[str] = field(default_factory=list)  # finished runs that still held slots

    def summary(self) -> str:
        parts = []
        if self.failed:
            parts.append(f"{len(self.failed)} run(s) whose worker is gone marked failed")
        if self.canceled:
            parts.append(f"{len(self.canceled)} stopped run(s) marked cancelled")
        if self.alive:
            parts.append(f"{len(self.alive)} run(s) in flight with a live worker")
        if self.unchecked:
            parts.append(
                f"{len(self.unchecked)} run(s) not checkable here: "
                + "; ".join(f"{run_id[:8]} {why}" for run_id, why in self.unchecked.items())
            )
        if self.slots_freed:
            parts.append(f"pool slots of {len(self.slots_freed)} finished run(s) freed")
        return ", ".join(parts) or "no run in flight"


def _why_unchecked(worker: Worker, host: str) -> str | None:
    if worker.host is None:
        return "launched without a host tag (mkailin/host): its worker cannot be located"
    if worker.host != host:
        return f"its worker runs on host {worker.host}, this is {host}"
    return None


def _end_run(
    instance: dg.DagsterInstance, run: dg.DagsterRun, worker: Worker, stopped: bool
) -> bool:
    """Fail (or cancel) a run whose worker is gone and free its slots; True when cancelled."""
    pid = f"pid {worker.pid}" if worker.pid else "no pid"
    cancel = stopped or run.status == dg.DagsterRunStatus.CANCELING
    if cancel:
        tags = {STOPPED_TAG: "dev.sh"} if stopped else {}
        instance.add_run_tags(run.run_id, {CAUSE_TAG: WORKER_GONE, **tags})
        instance.report_run_canceled(
            run, f"its worker ({pid} on {worker.host}) stopped with the platform: cancelled"
        )
    else:
        instance.add_run_tags(run.run_id, {CAUSE_TAG: WORKER_GONE})
        instance.report_run_failed(
            run,
            f"its worker ({pid} on {worker.host}) is gone (an unclean stop: reboot, OOM killer, "
            "kill -9): marked failed, its pool slots freed",
        )
    # Frees step slots and any slot an asset claimed itself through the instance's API.
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return cancel


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs that ended but still hold pool slots (a step interrupted by a stop never released
    its slot): freed, since a finished run needs none. Ids of the runs freed."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = set(storage.get_concurrency_run_ids())
    if not holders:
        return []
    runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=list(holders)))}
    freed = []
    for run_id in sorted(holders):
        run = runs.get(run_id)
        if run is None or run.is_finished:  # a deleted run holds nothing either
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed


def sweep_dead_runs(instance: dg.DagsterInstance, stopped: bool = False) -> Sweep:
    """End every in-flight run of this host whose worker is gone. `stopped`: the platform was
    stopped on purpose (dev.sh): such runs end cancelled, tagged so that they are resumed."""
    host = this_host()
    sweep = Sweep()
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)):
        worker = run_worker(instance, run)
        why = _why_unchecked(worker, host)
        if why:
            sweep.unchecked[run.run_id] = why
            if run.tags.get(WORKER_CHECK_TAG) != why:
                instance.add_run_tags(run.run_id, {WORKER_CHECK_TAG: why})
            continue
        if worker.pid is None and run.status == dg.DagsterRunStatus.STARTING:
            continue  # not started yet: run monitoring's start timeout covers it
        if worker_alive(worker):
            sweep.alive.append(run.run_id)
            continue
        if _end_run(instance, run, worker, stopped):
            sweep.canceled.append(run.run_id)
        else:
            sweep.failed.append(run.run_id)
    sweep.slots_freed = free_slots_of_finished_runs(instance)
    return sweep


def dead_run_check_interval_s() -> int:
    return settings.get_settings().dead_run_check_interval


def build_dead_run_sensor(running: bool = True) -> dg.SensorDefinition:
    interval = dead_run_check_interval_s()

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=interval,
        default_status=sensor_status(running),
        description=(
            f"At the daemon's start and every {interval}s (MKAILIN_DEAD_RUN_CHECK_INTERVAL): a "
            "run in flight whose worker process is gone (an unclean stop) is marked failed with "
            "the reason and its pool slots freed; run_retry_sensor then resumes it. Live "
            "workers and runs on other hosts are never touched."
        ),
    )
    def dead_run_sensor(context: dg.SensorEvaluationContext):
        sweep = sweep_dead_runs(context.instance)
        if sweep.failed:
            context.log.warning(sweep.summary() + ": " + ", ".join(sweep.failed))
        return dg.SkipReason(sweep.summary())

    return dead_run_sensor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stopped",
        action="store_true",
        help="the platform was stopped on purpose: end dead runs as cancelled (to be resumed)",
    )
    args = parser.parse_args(argv)
    try:
        with dg.DagsterInstance.get() as instance:
            sweep = sweep_dead_runs(instance, stopped=args.stopped)
    except Exception as error:
        problem = instance_write_problem(error)
        if problem is None:
            raise
        print(problem, file=sys.stderr)
        return 1
    print(f"==> runs in flight: {sweep.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
