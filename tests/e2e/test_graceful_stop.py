"""A graceful stop of ./scripts/dev.sh (SIGTERM, as Ctrl-C or a service manager sends it) while a
category run is in flight: the script cancels the runs through Dagster, stops `dagster dev`, and
no run is left STARTED; the next start resumes the cancelled run (run_retry_sensor) and the
platform converges without a hand."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import httpx
import psutil
import pytest

from mkailin_assets import settings
from mkailin_assets.automation import dead_runs, retries
from mkailin_assets.settings import REPO_ROOT
from tests.e2e.dagster_server import free_port, is_listening
from tests.e2e.small_release import write_small_release
from tests.e2e.test_operations import latest_timestamp, quiet, runs
from tests.harness import BASELINE_FILES, project_home, sample_env, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
ENDING = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class DevScript:
    def __init__(self, env: dict[str, str], log: Path, port: int):
        self.env, self.log, self.port = env, log, port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DevScript:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["bash", str(REPO_ROOT / "scripts" / "dev.sh")],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for("the UI", self.up, 600)
        return self

    def up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"dev.sh exited early:\n{self.tail()}")
        try:
            url = f"http://127.0.0.1:{self.port}/server_info"
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_for(self, what: str, condition, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(1.0)
        raise TimeoutError(f"waited {timeout_s:.0f}s for {what}:\n{self.tail()}")

    def terminate(self, timeout_s: float = 180) -> int:
        """SIGTERM to the script alone, as a user's `kill` would send it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout_s)
        self.process = None
        return code

    def kill_everything(self) -> None:
        """After a failure: the script and `dagster dev` (its own session) with all below."""
        if self.process is None:
            return
        family = [psutil.Process(self.process.pid)]
        with contextlib.suppress(psutil.NoSuchProcess):
            family += family[0].children(recursive=True)
        for member in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        psutil.wait_procs(family, timeout=20)
        self.process = None


def test_sigterm_cancels_runs_in_flight_and_the_next_start_resumes_them(tmp_path):
    source = tmp_path / "pubmed"
    mesh = tmp_path / "mesh" / "desc.xml"
    mesh.parent.mkdir()
    shutil.copy(settings.SAMPLE_MESH_SOURCE, mesh)
    for name in BASELINE_FILES:
        write_small_release(source, "baseline", name)
    home = project_home(tmp_path / "dagster_home")
    port = free_port()
    env = subprocess_env(
        sample_env(
            tmp_path,
            DAGSTER_HOME=str(home),
            MKAILIN_PUBMED_SOURCE=str(source),
            MKAILIN_MESH_SOURCE=str(mesh),
            MKAILIN_PORT=str(port),
            MKAILIN_RELEASE_CHECK_INTERVAL="5",
            MKAILIN_AUTOMATION_INTERVAL="5",
            MKAILIN_REFRESH_QUIET_S="0",  # a category run in flight soon after the files load
            MKAILIN_DEAD_RUN_CHECK_INTERVAL="5",
            MKAILIN_RUN_RETRY_DELAY="5",
            MKAILIN_EXPORT_DIR=None,
        )
    )
    script = DevScript(env, tmp_path / "dev.log", port)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        try:
            script.start()
            stopped = script.wait_for(
                "a category run in flight",
                lambda: [
                    r
                    for r in runs(instance, "category_pipeline_job")
                    if r.status == dg.DagsterRunStatus.STARTED
                ],
                900,
            )[0]
            assert script.terminate() == 0, script.tail()
            assert not is_listening(port)
            assert instance.get_runs_count(dg.RunsFilter(statuses=ENDING)) == 0, script.tail()
            after = instance.get_run_by_id(stopped.run_id)
            assert after.status == dg.DagsterRunStatus.CANCELED, script.tail()
            assert after.tags[dead_runs.STOPPED_TAG] == "dev.sh"

            script.start()

            def settled() -> bool:
                if not quiet(instance):
                    return False
                export_at = latest_timestamp(instance, "training_export")
                return export_at >= latest_timestamp(instance, "training_set") > 0

            script.wait_for("the platform converged", settled, 900)
            resumed = [
                r for r in instance.get_runs() if r.tags.get(retries.RETRY_OF_TAG) == stopped.run_id
            ]
            assert [r.status for r in resumed] == [dg.DagsterRunStatus.SUCCESS], script.tail()
            assert stopped.tags["dagster/partition"] in instance.get_materialized_partitions(
                dg.AssetKey("training_set")
            )
            assert script.terminate() == 0
            assert "no run in flight" in script.tail()
        finally:
            script.kill_everything()
