"""The run launcher of the instance (dagster.yaml `run_launcher`): Dagster's default launcher
that also tags every run with the host its worker runs on.

The default launcher starts a run's worker as a subprocess of the code server and has no health
check, so a worker that dies with its machine leaves the run STARTED for good. The worker writes
its pid into the run's event log; the host is added here, at launch, for every run launched
through the instance (UI, sensors, schedules, backfills, retries), so that dead_run_sensor can
tell a dead worker from a live one and never judges a worker on another host.
"""

from __future__ import annotations

from typing import Any

from dagster._core.launcher import DefaultRunLauncher, LaunchRunContext

from mkailin_assets.automation.run_workers import HOST_TAG, this_host

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


def worker_host(grpc_host: str | None, grpc_socket: str | None) -> str:
    """The host a code server at (host, socket) starts run workers on."""
    if grpc_socket or (grpc_host or "") in _LOOPBACK:
        return this_host()
    return str(grpc_host)


class HostTaggingRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher + the `mkailin/host` tag on every run it launches."""

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.remote_job_origin
        if context.workspace is not None and origin is not None:
            location = origin.repository_origin.code_location_origin.location_name
            client: Any = getattr(context.workspace.get_code_location(location), "client", None)
            host = worker_host(getattr(client, "host", None), getattr(client, "socket", None))
            self._instance.add_run_tags(run.run_id, {HOST_TAG: host})
        super().launch_run(context)
