"""An unclean stop with the real daemon: `dagster dev` on a fresh instance loads the MeSH file
and a small release, the affected-categories sensor launches the category runs; while one is in
flight the whole `dagster dev` process group is killed (SIGKILL). `dagster dev` is started again
on the same instance and the platform converges by itself: the dead run is failed with its
reason and its pool slot freed (dead_run_sensor), resumed after its delay (run_retry_sensor),
every category is refreshed and the export follows; no run is left in flight, none was
launched or terminated by hand."""

from __future__ import annotations

import os
import shutil
import signal
import time

import dagster as dg
import pytest

from mkailin_assets import settings
from mkailin_assets.automation import dead_runs, retries
from mkailin_assets.settings import REPO_ROOT
from tests.e2e.dagster_server import DagsterDevServer, group_alive
from tests.e2e.small_release import write_small_release
from tests.e2e.test_operations import latest_timestamp, quiet, runs, wait_for
from tests.harness import BASELINE_FILES, project_home, sample_env, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def kill_group(server: DagsterDevServer) -> None:
    assert server.process is not None
    pgid = server.process.pid
    os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while group_alive(pgid) and time.monotonic() < deadline:
        server.process.poll()
        time.sleep(0.2)
    server.process = None


def test_a_killed_platform_converges_after_a_restart_without_a_hand(tmp_path):
    source = tmp_path / "pubmed"
    mesh = tmp_path / "mesh" / "desc.xml"
    mesh.parent.mkdir()
    shutil.copy(settings.SAMPLE_MESH_SOURCE, mesh)
    for name in BASELINE_FILES:
        write_small_release(source, "baseline", name)
    home = project_home(tmp_path / "dagster_home")
    env = subprocess_env(
        sample_env(
            tmp_path,
            DAGSTER_HOME=str(home),
            MKAILIN_PUBMED_SOURCE=str(source),
            MKAILIN_MESH_SOURCE=str(mesh),
            MKAILIN_RELEASE_CHECK_INTERVAL="5",
            MKAILIN_AUTOMATION_INTERVAL="5",
            MKAILIN_REFRESH_QUIET_S="0",  # a category run in flight soon after the files load
            MKAILIN_DEAD_RUN_CHECK_INTERVAL="5",
            MKAILIN_RUN_RETRY_DELAY="5",
            MKAILIN_EXPORT_DIR=None,
        )
    )
    log = tmp_path / "dagster-dev.log"
    first = DagsterDevServer(REPO_ROOT, env, log).start()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        try:
            killed = wait_for(
                "a category run in flight",
                lambda: [
                    r
                    for r in runs(instance, "category_pipeline_job")
                    if r.status == dg.DagsterRunStatus.STARTED
                ],
                first,
                900,
            )[0]
            kill_group(first)
        finally:
            if first.process is not None:
                first.stop()
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.STARTED
        assert killed.tags.get("mkailin/host"), "the launcher did not tag the run's host"

        with DagsterDevServer(REPO_ROOT, env, tmp_path / "dagster-dev-2.log") as second:
            dead = wait_for(
                "the killed run marked failed",
                lambda: (
                    (run := instance.get_run_by_id(killed.run_id)).status
                    == dg.DagsterRunStatus.FAILURE
                    and run
                ),
                second,
                300,
            )
            assert dead.tags[dead_runs.CAUSE_TAG] == dead_runs.WORKER_GONE

            def settled() -> bool:
                if not quiet(instance):
                    return False
                export_at = latest_timestamp(instance, "training_export")
                return export_at >= latest_timestamp(instance, "training_set") > 0

            wait_for("the platform converged", settled, second, 900)
            time.sleep(12)
            assert quiet(instance)
            retried = [r for r in instance.get_runs() if r.tags.get(retries.RETRY_OF_TAG)]
            assert any(r.tags[retries.RETRY_OF_TAG] == killed.run_id for r in retried)
            assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in retried)
            partition = killed.tags["dagster/partition"]
            refreshed = instance.get_latest_materialization_event(
                dg.AssetKey("training_set")
            )  # any category; the killed one below
            assert refreshed is not None
            assert partition in instance.get_materialized_partitions(dg.AssetKey("training_set"))
            hand = [
                r
                for r in instance.get_runs()
                if not r.tags.get("dagster/sensor_name") and not r.tags.get("dagster/backfill")
            ]
            assert hand == []
            info = instance.event_log_storage.get_concurrency_info("duckdb")
            assert not info.claimed_slots
