"""DuckDB has one writer: concurrent runs of different category partitions, each in its own
process as `dagster dev` would launch them, share the project's `duckdb` pool and all succeed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mkailin_assets.assets.mesh import mesh_tree, mesh_vocabulary
from mkailin_assets.assets.pubmed import pubmed_files
from mkailin_assets.automation.pools import initialize_pools
from mkailin_assets.ingest.sources import list_release_files
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.method import MethodConfig
from mkailin_assets.settings import REPO_ROOT, SAMPLE_MESH_SOURCE, SAMPLE_PUBMED_SOURCE

CATEGORIES = ["C", "D", "G"]
DAGSTER = Path(sys.executable).parent / "dagster"
LOCK_ERRORS = ("Could not set lock", "Conflicting lock", "database is locked")


def project_env(dagster_home: Path, db_path: Path, downloads: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "MKAILIN_DUCKDB_PATH": str(db_path),
        "MKAILIN_MESH_SOURCE": str(SAMPLE_MESH_SOURCE),
        "MKAILIN_PUBMED_SOURCE": str(SAMPLE_PUBMED_SOURCE),
        "MKAILIN_DOWNLOAD_DIR": str(downloads),
        "MKAILIN_LLM_BACKEND": "offline",
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def load_inputs(instance: dg.DagsterInstance, db_path: Path) -> None:
    """MeSH for the categories and every sample release file, in order, in this process."""
    resources = {"duckdb_store": DuckDBStore(path=str(db_path)), "method": MethodConfig()}
    assert dg.materialize([mesh_vocabulary], instance=instance, resources=resources).success
    for category in CATEGORIES:
        assert dg.materialize(
            [mesh_tree], instance=instance, partition_key=category, resources=resources
        ).success
    names = [release.name for release in list_release_files(str(SAMPLE_PUBMED_SOURCE))]
    instance.add_dynamic_partitions("pubmed_files", names)
    for name in names:
        assert dg.materialize(
            [pubmed_files], instance=instance, partition_key=name, resources=resources
        ).success


def step_windows(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float]]:
    starts: dict[str, float] = {}
    windows = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
        elif event.event_type in (
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        ):
            windows.append((starts[event.step_key], record.timestamp))
    return windows


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_concurrent_category_runs_share_the_duckdb_pool(tmp_path, monkeypatch):
    if not SAMPLE_PUBMED_SOURCE.exists() or not any(SAMPLE_PUBMED_SOURCE.rglob("*.xml.gz")):
        pytest.skip(f"sample release files are absent from {SAMPLE_PUBMED_SOURCE}")
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    db_path = tmp_path / "mkailin.duckdb"
    env = project_env(dagster_home, db_path, tmp_path / "downloads")
    for name in (
        "DAGSTER_HOME",
        "MKAILIN_PUBMED_SOURCE",
        "MKAILIN_MESH_SOURCE",
        "MKAILIN_DOWNLOAD_DIR",
    ):
        monkeypatch.setenv(name, env[name])

    with dg.DagsterInstance.get() as instance:
        # As scripts/_env.sh does when it sets up the instance.
        assert initialize_pools(instance) == {"duckdb": 1}
        load_inputs(instance, db_path)
        # raw_abstracts is the first writer of the per-category chain; the later stages hold the
        # same pool, so the pool, not the stage, is under test (and the test stays short).
        # Several runs at once, each a process with the multiprocess executor, as launched runs are.
        runs = [
            subprocess.Popen(
                [
                    str(DAGSTER),
                    "asset",
                    "materialize",
                    "-m",
                    "mkailin_assets.definitions",
                    "--select",
                    "raw_abstracts",
                    "--partition",
                    category,
                ],
                env=env,
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for category in CATEGORIES
        ]
        outputs = [run.communicate(timeout=480)[0] for run in runs]
        for category, run, output in zip(CATEGORIES, runs, outputs, strict=True):
            assert run.returncode == 0, f"run for {category} failed:\n{output[-4000:]}"
            assert not any(error in output for error in LOCK_ERRORS), output[-4000:]

        category_runs = [
            run
            for run in instance.get_runs()
            if run.tags.get("dagster/partition") in CATEGORIES and run.job_name == "__ASSET_JOB"
        ]
        assert len(category_runs) == len(CATEGORIES)
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in category_runs)

        # The pool (limit 1) let one writer step run at a time: no two step windows overlap.
        windows = sorted(w for run in category_runs for w in step_windows(instance, run.run_id))
        assert len(windows) >= len(CATEGORIES)
        for (_, end), (next_start, _) in zip(windows, windows[1:], strict=False):
            assert next_start >= end - 0.05, windows

    with duckdb.connect(str(db_path), read_only=True) as con:
        counts = dict(
            con.execute("SELECT category, count(*) FROM raw_abstracts GROUP BY category").fetchall()
        )
    # data/sample/README.md: abstracts per category after the update file.
    assert counts == {"C": 25, "D": 19, "G": 21}
