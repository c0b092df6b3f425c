"""Launched runs start from the code server's warm forkserver (automation/run_start.py): runs
launched through the instance's run launcher into a real code server, as the UI launches them."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import psutil
import pytest

from mkailin_assets.automation.pools import initialize_pools
from mkailin_assets.automation.run_workers import run_worker
from mkailin_assets.settings import REPO_ROOT
from tests.harness import apply_env, project_instance, sample_env
from tests.launched_runs import DescendantWatcher, code_server, launch_run, wait_for_runs


@dataclass(frozen=True)
class Starter:
    """The process a run's process was started by, and that process's parent."""

    pid: int
    command: str
    parent_pid: int
    parent_command: str


def describe(pid: int) -> tuple[int, str]:
    process = psutil.Process(pid)
    return process.ppid(), " ".join(process.cmdline())


def run_starters(
    tmp_path, monkeypatch, run_start: str, between: Callable[[Starter], None] | None = None
) -> list[Starter]:
    """Two runs of mesh_vocabulary launched one after the other into one code server (`between`
    called with the first's starter before the second): what started each run's process."""
    apply_env(monkeypatch, sample_env(tmp_path, MKAILIN_RUN_START=run_start))
    with project_instance(tmp_path / "dagster_home", monkeypatch) as instance:
        initialize_pools(instance)
        watcher = DescendantWatcher(os.getpid())
        try:
            with code_server(instance, str(REPO_ROOT / "workspace.yaml")) as workspace:
                starters: list[Starter] = []
                for _ in range(2):
                    if starters and between is not None:
                        between(starters[0])
                    run_id = launch_run(instance, workspace, ["mesh_vocabulary"], None)
                    wait_for_runs(instance, [run_id], timeout_s=240)
                    run = instance.get_run_by_id(run_id)
                    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS, run_id
                    pid = run_worker(instance, run).pid
                    assert pid in watcher.parents, f"the run's process {pid} was never seen"
                    starter = watcher.parents[pid]  # alive as long as the code server is
                    parent, command = describe(starter)
                    starters.append(Starter(starter, command, parent, describe(parent)[1]))
                return starters
        finally:
            watcher.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_launched_runs_fork_from_one_warm_forkserver(tmp_path, monkeypatch):
    first, second = run_starters(tmp_path, monkeypatch, "forkserver")
    assert "forkserver" in first.command, first
    assert "api grpc" in first.parent_command, first  # the code server started it
    assert second == first  # one forkserver for both runs: the start-up is paid once


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_spawn_keeps_dagsters_own_start(tmp_path, monkeypatch):
    first, second = run_starters(tmp_path, monkeypatch, "spawn")
    assert "api grpc" in first.command, first  # the code server itself
    assert first.parent_pid == os.getpid()
    assert second == first


def kill_and_wait(starter: Starter) -> None:
    process = psutil.Process(starter.pid)
    process.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the code server reaps it only at its next launch
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)
    raise AssertionError(f"the forkserver {starter.pid} survived SIGKILL")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_killed_forkserver_is_replaced_at_the_next_launch(tmp_path, monkeypatch):
    first, second = run_starters(tmp_path, monkeypatch, "forkserver", between=kill_and_wait)
    assert "forkserver" in second.command, second
    assert second.pid != first.pid
    assert second.parent_pid == first.parent_pid  # the same code server started a new one
