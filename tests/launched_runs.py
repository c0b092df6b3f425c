"""Runs launched the way the UI, a backfill or a sensor launches them: through the instance's
run launcher (dagster.yaml) into the project's code server (workspace.yaml, started as a
subprocess, as `dagster dev` starts it), which starts each run in a process of its own
(automation/run_start.py decides how).

Used by tests/integration/test_run_start.py and benchmarks/parallel.py (`--launch code-server`,
where the benchmark's process is the launcher's host, as the daemon is in production).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import psutil
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from mkailin_assets.automation.run_workers import run_worker

ASSET_JOB = "__ASSET_JOB"
_DONE = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@contextlib.contextmanager
def code_server(instance: dg.DagsterInstance, workspace_yaml: str) -> Iterator[Any]:
    """The workspace's code location, served by a code server subprocess while in the block."""
    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[workspace_yaml])) as process:
        yield process


def launch_run(
    instance: dg.DagsterInstance, workspace: Any, assets: Sequence[str], partition: str | None
) -> str:
    """One run of `assets` for `partition`, created from the code server's snapshot and launched
    through the instance's run launcher, as the UI's "Materialize" does; its run id."""
    context = workspace.create_request_context()
    location = next(iter(context.get_code_location_entries().values())).code_location
    repository = next(iter(location.get_repositories().values()))
    keys = {dg.AssetKey(name) for name in assets}
    selector = JobSubsetSelector(
        location_name=location.name,
        repository_name=repository.name,
        job_name=ASSET_JOB,
        op_selection=None,
        asset_selection=keys,
    )
    job = location.get_job(selector)
    plan = location.get_execution_plan(
        job, {}, step_keys_to_execute=None, known_state=None, instance=instance
    )
    run = instance.create_run(
        job_name=ASSET_JOB,
        run_id=None,
        run_config={},
        resolved_op_selection=None,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags={**job.tags, **({"dagster/partition": partition} if partition else {})},
        job_snapshot=job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        parent_job_snapshot=job.parent_job_snapshot,
        remote_job_origin=job.get_remote_origin(),
        job_code_origin=job.get_python_origin(),
        asset_selection=frozenset(keys),
        asset_check_selection=None,
        asset_graph=repository.asset_graph,
    )
    instance.launch_run(run.run_id, context)
    return run.run_id


@dataclass
class RunProcessMeter:
    """CPU seconds and peak RSS of launched runs' processes, found by the pid each run writes in
    its event log and sampled while they live (the last sample is at most `interval_s` short)."""

    instance: dg.DagsterInstance
    run_ids: Sequence[str]
    interval_s: float = 0.1
    cpu_s: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    # What started each run's process: "forkserver" (automation/run_start.py) or "code server".
    started_by: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._processes: dict[str, psutil.Process] = {}
        self._thread.start()

    def _find(self, run_id: str) -> None:
        run = self.instance.get_run_by_id(run_id)
        pid = run_worker(self.instance, run).pid if run is not None else None
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                parent = " ".join(process.parent().cmdline())  # type: ignore[union-attr]
                self.started_by[run_id] = "forkserver" if "forkserver" in parent else "code server"
                self._processes[run_id] = process

    def _sample(self) -> None:
        while not self._stop.is_set():
            for run_id in self.run_ids:
                if run_id not in self._processes:
                    self._find(run_id)
                process = self._processes.get(run_id)
                if process is None:
                    continue
                with contextlib.suppress(psutil.Error):
                    with process.oneshot():
                        times = process.cpu_times()
                        self.cpu_s[run_id] = round(times.user + times.system, 2)
                        rss = process.memory_info().rss / 2**20
                    self.rss_mb[run_id] = round(max(self.rss_mb.get(run_id, 0.0), rss))
            time.sleep(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def wait_for_runs(
    instance: dg.DagsterInstance, run_ids: Sequence[str], timeout_s: float = 3600
) -> dict[str, dg.DagsterRun]:
    """Every run once it has ended; TimeoutError naming those still going."""
    deadline = time.monotonic() + timeout_s
    while True:
        runs = {run_id: instance.get_run_by_id(run_id) for run_id in run_ids}
        if all(run is not None and run.status in _DONE for run in runs.values()):
            return runs  # type: ignore[return-value]
        if time.monotonic() > deadline:
            going = [
                run_id for run_id, run in runs.items() if run is None or run.status not in _DONE
            ]
            raise TimeoutError(f"runs still going after {timeout_s:.0f} s: {going}")
        time.sleep(0.2)


def step_figures(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, Any]]:
    """Per asset step of a run: ok, seconds, and the writer's and model's metadata, in the shape
    parallel.py's run processes print."""
    starts: dict[str, float] = {}
    out: dict[str, dict[str, Any]] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        step = event.step_key
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[step] = record.timestamp
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.event_specific_data.materialization.metadata  # type: ignore[union-attr]
            out.setdefault(step, {}).update(
                {
                    key: value.value
                    for key, value in metadata.items()
                    if key.startswith(("writer.", "llm.max", "llm.requests"))
                }
            )
        elif event.event_type in (
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        ):
            figures = out.setdefault(step, {})
            figures["ok"] = event.event_type == dg.DagsterEventType.STEP_SUCCESS
            figures["s"] = round(record.timestamp - starts.get(step, record.timestamp), 2)
    return out


class DescendantWatcher:
    """Every process that descends from `root` while watched, with its parent's pid: a run's
    process lives a second or more, far longer than the 20 ms between looks."""

    def __init__(self, root: int, interval_s: float = 0.02) -> None:
        self.root, self.interval_s = psutil.Process(root), interval_s
        self.parents: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            for child in self.root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.parents.setdefault(child.pid, child.ppid())
            time.sleep(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
