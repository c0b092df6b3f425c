"""Operations as a user lives them, with the real daemon (`dagster dev` on a fresh instance):

release files are dropped before MeSH exists (they wait), then the MeSH file (the release sensor
loads the vocabulary, then the files), then one more release file whose first run is forced to
fail (a wrong .md5): it is retried on a later tick and loads. Every category with data refreshes,
once no file has loaded for the quiet period, and training_export follows, without a run launched
by hand. Short intervals through the settings (MKAILIN_RELEASE_CHECK_INTERVAL,
MKAILIN_AUTOMATION_INTERVAL, MKAILIN_REFRESH_QUIET_S); the project's own run queue (four runs at
once, release files one at a time).

The source is the sample cut down to a handful of citations in three categories
(tests/e2e/small_release.py), so the daemon carries three category refreshes, not fifteen."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable

import dagster as dg
import duckdb
import pytest

from mkailin_assets import settings
from mkailin_assets.automation.staleness import freshness_table
from mkailin_assets.db import snapshot_path
from mkailin_assets.settings import REPO_ROOT
from tests.e2e.dagster_server import DagsterDevServer
from tests.e2e.small_release import SMALL_CATEGORIES, write_small_release
from tests.harness import BASELINE_FILES, UPDATE_FILE, project_home, sample_env, subprocess_env

# About 4-5 minutes on a 2-core machine; the timeout leaves room for a loaded one.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

RELEASE_SENSOR = "pubmed_release_sensor"
AFFECTED_SENSOR = "affected_categories_sensor"
QUIET_S = 20  # the refreshes wait this long after the newest file (MKAILIN_REFRESH_QUIET_S)
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def wait_for(
    what: str, condition: Callable[[], object], server: DagsterDevServer, timeout_s: float
):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1.0)
    raise TimeoutError(f"waited {timeout_s:.0f}s for {what}:\n{server.log_tail()}")


def runs(instance: dg.DagsterInstance, job: str, **filters) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(job_name=job, **filters)))


def partition_runs(instance: dg.DagsterInstance, job: str, partition: str) -> list[dg.DagsterRun]:
    return runs(instance, job, tags={"dagster/partition": partition})


def succeeded(instance: dg.DagsterInstance, job: str, partition: str | None = None) -> bool:
    found = partition_runs(instance, job, partition) if partition else runs(instance, job)
    return any(r.status == dg.DagsterRunStatus.SUCCESS for r in found)


def skip_reasons(instance: dg.DagsterInstance, sensor: str) -> list[str]:
    """What the sensor's ticks said when they requested nothing (newest first)."""
    reasons = []
    for state in instance.all_instigator_state():
        if state.instigator_name == sensor:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=50)
            reasons += [tick.skip_reason for tick in ticks if tick.skip_reason]
    return reasons


def quiet(instance: dg.DagsterInstance) -> bool:
    return instance.get_runs_count(dg.RunsFilter(statuses=IN_FLIGHT)) == 0


def in_flight(instance: dg.DagsterInstance) -> list[tuple]:
    return [
        (r.job_name, r.tags.get("dagster/partition"), r.asset_selection, r.status, dict(r.tags))
        for r in instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT))
    ]


def latest_timestamp(instance: dg.DagsterInstance, key: str) -> float:
    records = instance.fetch_materializations(dg.AssetKey(key), limit=1, ascending=False).records
    return records[0].timestamp if records else 0.0


def test_first_start_releases_retries_and_the_export_follow_without_a_hand(tmp_path):
    source = tmp_path / "pubmed"
    mesh = tmp_path / "mesh" / "desc.xml"
    home = project_home(tmp_path / "dagster_home")
    env = sample_env(
        tmp_path,
        DAGSTER_HOME=str(home),
        MKAILIN_PUBMED_SOURCE=str(source),
        MKAILIN_MESH_SOURCE=str(mesh),
        MKAILIN_RELEASE_CHECK_INTERVAL="5",
        MKAILIN_AUTOMATION_INTERVAL="5",
        MKAILIN_RELEASE_MAX_ATTEMPTS="4",
        MKAILIN_REFRESH_QUIET_S=str(QUIET_S),
        MKAILIN_REFRESH_MAX_WAIT_S="600",  # never reached here: every refresh waits the quiet
        MKAILIN_EXPORT_DIR=None,  # the default: beside the instance's DuckDB file
    )
    for name in BASELINE_FILES:
        write_small_release(source, "baseline", name)

    started = time.monotonic()
    with (
        DagsterDevServer(REPO_ROOT, subprocess_env(env), tmp_path / "dagster-dev.log") as server,
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        # 1. Release files wait for the vocabulary: the sensor says so, registers and runs nothing.
        wait_for(
            "a release tick that waits for the vocabulary",
            lambda: any(
                "wait for the MeSH vocabulary" in r for r in skip_reasons(instance, RELEASE_SENSOR)
            ),
            server,
            240,
        )
        assert instance.get_dynamic_partitions("pubmed_files") == []
        assert instance.get_runs_count() == 0, server.log_tail()

        # 2. The MeSH file lands: the sensor loads the vocabulary, then the waiting files.
        mesh.parent.mkdir()
        shutil.copy(settings.SAMPLE_MESH_SOURCE, mesh)
        wait_for(
            "the vocabulary loaded by the sensor",
            lambda: succeeded(instance, "mesh_vocabulary_job"),
            server,
            300,
        )
        (vocabulary,) = runs(instance, "mesh_vocabulary_job")
        assert vocabulary.tags["dagster/sensor_name"] == RELEASE_SENSOR

        # 3. One more file, its first run forced to fail by a wrong checksum; the right one is
        # put back as soon as that run failed, and a later tick retries the file.
        write_small_release(source, "updatefiles", UPDATE_FILE, f"MD5({UPDATE_FILE})= {'0' * 32}\n")
        wait_for(
            "the update file's run to fail",
            lambda: any(
                r.status == dg.DagsterRunStatus.FAILURE
                for r in partition_runs(instance, "pubmed_file_job", UPDATE_FILE)
            ),
            server,
            600,
        )
        write_small_release(source, "updatefiles", UPDATE_FILE)
        wait_for(
            "the update file retried and loaded",
            lambda: succeeded(instance, "pubmed_file_job", UPDATE_FILE),
            server,
            600,
        )
        (retried,) = [
            r
            for r in partition_runs(instance, "pubmed_file_job", UPDATE_FILE)
            if r.status == dg.DagsterRunStatus.SUCCESS
        ]
        assert int(retried.tags["mkailin/attempt"]) >= 2
        assert retried.tags["dagster/sensor_name"] == RELEASE_SENSOR
        for name in BASELINE_FILES:
            assert succeeded(instance, "pubmed_file_job", name)
        loaded_update_at = latest_timestamp(instance, "pubmed_files")

        # 4. Categories refresh and the export follows, all by automation. No run in flight is
        # not enough: during the quiet period nothing runs and the categories are still due.
        def settled() -> bool:
            if not quiet(instance) or not all(row.ok for row in freshness_table(instance)):
                return False
            export_at = latest_timestamp(instance, "training_export")
            return export_at > loaded_update_at and export_at >= latest_timestamp(
                instance, "training_set"
            )

        wait_for("categories refreshed and the export written", settled, server, 900)
        time.sleep(12)  # two more rounds of ticks: nothing further is due
        assert quiet(instance), in_flight(instance)

        category_runs = runs(instance, "category_pipeline_job")
        assert all(r.tags.get("dagster/sensor_name") for r in category_runs)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in category_runs), [
            (r.tags.get("dagster/partition"), r.status) for r in category_runs
        ]
        refreshed = {r.tags["dagster/partition"] for r in category_runs}
        hand_launched = [
            r
            for r in instance.get_runs()
            if not r.tags.get("dagster/sensor_name") and not r.tags.get("dagster/backfill")
        ]
        assert hand_launched == []
        export_runs = [
            r for r in instance.get_runs() if "training_export" in str(r.asset_selection)
        ]
        assert export_runs and all(r.tags.get("dagster/sensor_name") for r in export_runs)

        # Each refresh was requested once no file had loaded for the quiet period.
        loaded_at = {
            r.storage_id: r.timestamp
            for r in instance.fetch_materializations(dg.AssetKey("pubmed_files"), limit=100).records
        }
        for record in instance.get_run_records(dg.RunsFilter(job_name="category_pipeline_job")):
            covered = record.dagster_run.tags.get("mkailin/pubmed_storage_id")
            if covered:
                waited = record.create_timestamp.timestamp() - loaded_at[int(covered)]
                assert waited >= QUIET_S - 1, (record.dagster_run.run_id, waited)
        assert any("MKAILIN_REFRESH_QUIET_S" in r for r in skip_reasons(instance, AFFECTED_SENSOR))

    con = duckdb.connect(str(snapshot_path(tmp_path / "mkailin.duckdb")), read_only=True)
    try:
        with_data = {
            row[0] for row in con.execute("SELECT DISTINCT category FROM raw_abstracts").fetchall()
        }
        sft_sources = con.execute(
            "SELECT count(DISTINCT source_pmid) FROM training_set WHERE kind = 'sft'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert with_data == SMALL_CATEGORIES
    assert refreshed == with_data
    manifest = json.loads((tmp_path / "exports" / "manifest.json").read_text())
    exported_sources = {
        row["source_pmid"]
        for split in manifest["counts"].get("sft", {})
        for row in map(
            json.loads, (tmp_path / "exports" / "sft" / f"{split}.jsonl").read_text().splitlines()
        )
    }
    assert 0 < len(exported_sources) <= sft_sources
    print(f"first start to settled export: {time.monotonic() - started:.0f}s")
