"""Runs whose process died: marked failed and their pool slots freed.

A run executed in process (the demo, scripts/evaluate.py) holds the `duckdb` pool's only slot
while a step writes. When that process is killed (Ctrl-C twice, SIGKILL, a crash) the run stays
STARTED in the instance and the slot stays claimed, so the next run waits for it forever. Runs
we launch carry the pid and host of their process; before launching, anything of ours whose
process is gone is reported failed and its slots freed.
"""

from __future__ import annotations

import os
import socket

import dagster as dg

PID_TAG = "mkailin/pid"
HOST_TAG = "mkailin/host"
_IN_PROGRESS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def process_tags() -> dict[str, str]:
    """Tags of a run executed by this process."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def release_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the in-progress runs of this host whose process is gone; free their slots.
    Returns their run ids."""
    released = []
    runs = instance.get_runs(
        dg.RunsFilter(statuses=_IN_PROGRESS, tags={HOST_TAG: socket.gethostname()})
    )
    for run in runs:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid <= 0 or pid == os.getpid() or process_alive(pid):
            continue
        instance.report_run_failed(
            run, f"its process (pid {pid}) is gone: marked failed, its pool slots freed"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released
