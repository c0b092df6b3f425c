"""Which process executes a run, on which host, and whether it still lives.

Every run carries it: runs executed in process (the demo, scripts/evaluate.py) have the pid and
host tags of abandoned_runs.process_tags; runs launched through the instance (UI, sensors,
schedules, backfills, retries) get the host tag from the run launcher (automation/launcher.py),
and their worker writes its pid in the "Started process for run (pid: N)" engine event.

A pid alone can be reused after a reboot: a process whose start time is later than the run's
start is not its worker (Linux /proc; elsewhere only the pid is checked).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from mkailin_assets.automation.abandoned_runs import process_alive

PID_TAG = "mkailin/pid"
HOST_TAG = "mkailin/host"
# A worker's own clock reading and /proc's tick-based start time differ by up to a tick or two;
# a reused pid starts long after (minutes: a restart).
_START_SLACK_S = 5.0


@dataclass(frozen=True)
class Worker:
    pid: int | None  # None: the worker has not written its pid yet (STARTING)
    host: str | None  # None: launched without our host tag (cannot tell where it runs)
    started_at: float | None  # when the worker reported its start (epoch seconds)


def this_host() -> str:
    return socket.gethostname()


def _engine_start_event(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20
    ).records
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        data = getattr(event, "event_specific_data", None) if event else None
        pid = getattr(data, "metadata", {}).get("pid") if data is not None else None
        message = (event.message if event else None) or entry.user_message or ""
        if pid is not None and "Started process for run" in message:
            return int(getattr(pid, "value", pid)), entry.timestamp
    return None


def run_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Worker:
    """The worker of a run, from its tags or its start event."""
    host = run.tags.get(HOST_TAG)
    if run.tags.get(PID_TAG):
        record = instance.get_run_record_by_id(run.run_id)
        started = record.start_time if record else None
        return Worker(int(run.tags[PID_TAG]), host, started)
    found = _engine_start_event(instance, run.run_id)
    if found is None:
        return Worker(None, host, None)
    return Worker(found[0], host, found[1])


def _process_start_time(pid: int) -> float | None:
    """When the process started (epoch seconds), from /proc; None where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name may contain spaces and parentheses
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def worker_alive(worker: Worker) -> bool:
    """The worker's process exists and is not a later process that reused its pid."""
    if worker.pid is None or worker.pid <= 0 or not process_alive(worker.pid):
        return False
    if worker.started_at is None:
        return True
    started = _process_start_time(worker.pid)
    return started is None or started <= worker.started_at + _START_SLACK_S
