"""A run whose process was killed while it held the duckdb pool's slot: the next launch of the
demo (or scripts/evaluate.py) marks it failed and frees the slot instead of waiting forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg

from mkailin_assets.automation.abandoned_runs import (
    PID_TAG,
    process_tags,
    release_abandoned_runs,
)
from mkailin_assets.automation.pools import initialize_pools

HOLDER = textwrap.dedent(
    """
    import time
    import dagster as dg
    from mkailin_assets.automation.abandoned_runs import process_tags

    @dg.asset(pool="duckdb")
    def slow_writer() -> None:
        time.sleep(300)

    with dg.DagsterInstance.get() as instance:
        dg.materialize([slow_writer], instance=instance, tags=process_tags())
    """
)


@dg.asset(pool="duckdb")
def quick_writer() -> int:
    return 1


def _wait_for_claim(instance: dg.DagsterInstance, timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = instance.event_log_storage.get_concurrency_info("duckdb")
        if info.claimed_slots:
            return info.claimed_slots[0].run_id
        time.sleep(0.5)
    raise TimeoutError("the holder never claimed the duckdb slot")


def test_a_killed_run_is_marked_failed_and_its_slot_freed(project_instance):
    initialize_pools(project_instance)
    env = {**os.environ, "DAGSTER_HOME": project_instance.root_directory}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=env)
    try:
        run_id = _wait_for_claim(project_instance)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    storage = project_instance.event_log_storage
    assert storage.get_concurrency_info("duckdb").claimed_slots  # held by a dead process
    run = project_instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.STARTED

    assert release_abandoned_runs(project_instance) == [run_id]
    assert project_instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert not storage.get_concurrency_info("duckdb").claimed_slots
    assert release_abandoned_runs(project_instance) == []  # nothing left to release
    # The next writer gets the slot at once.
    result = dg.materialize([quick_writer], instance=project_instance, tags=process_tags())
    assert result.success


def test_a_run_whose_process_lives_is_left_alone(project_instance):
    alive = subprocess.Popen(["sleep", "60"])
    try:
        job = dg.Definitions(assets=[quick_writer]).get_implicit_global_asset_job_def()
        run = project_instance.create_run_for_job(
            job, tags={**process_tags(), PID_TAG: str(alive.pid)}
        )
        project_instance.handle_run_event(
            run.run_id,
            dg.DagsterEvent(
                event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name
            ),
        )
        assert release_abandoned_runs(project_instance) == []  # another process, alive
        alive.kill()
        alive.wait()
        assert release_abandoned_runs(project_instance) == [run.run_id]  # now it is gone
    finally:
        alive.kill()
