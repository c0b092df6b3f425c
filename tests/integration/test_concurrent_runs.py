"""DuckDB has one writer: concurrent runs of different category partitions, each in its own
process as `dagster dev` would launch them, share the project's `duckdb` pool and all succeed."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from mkailin_assets.automation.pools import initialize_pools
from mkailin_assets.ingest.sources import list_release_files
from mkailin_assets.settings import SAMPLE_PUBMED_SOURCE
from tests.harness import (
    apply_env,
    materialize,
    materialize_process,
    project_instance,
    sample_env,
    subprocess_env,
)

CATEGORIES = ["C", "D", "G"]
LOCK_ERRORS = ("Could not set lock", "Conflicting lock", "database is locked")


def load_inputs(instance: dg.DagsterInstance) -> None:
    """MeSH for the categories and every sample release file, in order, in this process."""
    assert materialize(["mesh_vocabulary"], None, instance).success
    for category in CATEGORIES:
        assert materialize(["mesh_tree"], category, instance).success
    names = [release.name for release in list_release_files(str(SAMPLE_PUBMED_SOURCE))]
    instance.add_dynamic_partitions("pubmed_files", names)
    for name in names:
        assert materialize(["pubmed_files"], name, instance).success


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
    project = sample_env(tmp_path)
    apply_env(monkeypatch, project)
    db_path = project["MKAILIN_DUCKDB_PATH"]
    with project_instance(tmp_path / "dagster_home", monkeypatch) as instance:
        env = subprocess_env(project)  # with the DAGSTER_HOME project_instance set
        # As scripts/_env.sh does when it sets up the instance.
        assert initialize_pools(instance) == {"duckdb": 1}
        load_inputs(instance)
        # raw_abstracts is the first writer of the per-category chain; the later stages hold the
        # same pool, so the pool, not the stage, is under test (and the test stays short).
        # Several runs at once, each a process of its own, as launched runs are.
        runs = [materialize_process("raw_abstracts", category, env) for category in CATEGORIES]
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
        # The project's executor runs a run's steps in the run's own process (no process per step).
        for run in category_runs:
            pids = {
                record.event_log_entry.dagster_event.pid
                for record in instance.get_records_for_run(run.run_id).records
                if record.event_log_entry.dagster_event is not None
                and record.event_log_entry.dagster_event.pid is not None
            }
            assert len(pids) == 1, pids

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
