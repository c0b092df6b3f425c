"""A graceful stop of the platform (`./scripts/dev.sh` on Ctrl-C or SIGTERM): runs in flight end
as cancelled, not STARTED, and are tagged so that run_retry_sensor resumes them at the next start.

Called while `dagster dev` still runs: each in-flight run of this host is tagged
`mkailin/stopped_by` and terminated through the run launcher (Dagster's own cancellation); the
command waits up to --timeout seconds for them to end. dev.sh then stops `dagster dev` and sweeps
what is left (`dead_runs --stopped`: a run whose worker went with it ends cancelled, same tag).

    python -m mkailin_assets.automation.shutdown [--timeout 45]
"""

from __future__ import annotations

import argparse
import sys
import time

import dagster as dg

from mkailin_assets.automation.dead_runs import STOPPED_TAG
from mkailin_assets.automation.run_workers import HOST_TAG, this_host

RUNNING = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
ENDING = [*RUNNING, dg.DagsterRunStatus.CANCELING]


def stop_runs(instance: dg.DagsterInstance) -> list[str]:
    """Tag and terminate this host's running runs; their ids."""
    stopped = []
    for run in instance.get_runs(dg.RunsFilter(statuses=RUNNING)):
        if run.tags.get(HOST_TAG, this_host()) != this_host():
            continue
        instance.add_run_tags(run.run_id, {STOPPED_TAG: "dev.sh"})
        try:
            instance.run_launcher.terminate(run.run_id)
        except Exception as error:  # the code server may already be gone: the sweep follows
            print(f"    run {run.run_id[:8]}: not terminated ({error})")
        stopped.append(run.run_id)
    return stopped


def wait_for_end(instance: dg.DagsterInstance, run_ids: list[str], timeout_s: float) -> list[str]:
    """Run ids still not ended after timeout_s."""
    deadline = time.monotonic() + timeout_s
    left = list(run_ids)
    while left and time.monotonic() < deadline:
        time.sleep(1.0)
        left = [
            run_id
            for run_id in left
            if (run := instance.get_run_by_id(run_id)) is not None and run.status in ENDING
        ]
    return left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=45.0)
    args = parser.parse_args(argv)
    with dg.DagsterInstance.get() as instance:
        stopped = stop_runs(instance)
        if not stopped:
            print("==> no run in flight")
            return 0
        print(f"==> cancelling {len(stopped)} run(s) in flight; they resume at the next start")
        left = wait_for_end(instance, stopped, args.timeout)
    if left:
        print(f"==> {len(left)} run(s) still ending; the sweep after the stop cancels them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
