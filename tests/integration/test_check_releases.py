"""The check-now command: the release sensor's decision, run at once on the project instance."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from mkailin_assets.automation.check_releases import check_now, release_definitions
from mkailin_assets.settings import REPO_ROOT
from tests.harness import SAMPLE_FILES, apply_env, project_home, sample_env, subprocess_env


def test_check_now_loads_the_vocabulary_then_the_release_files_in_order(
    tmp_path, monkeypatch, project_instance, capsys
):
    apply_env(monkeypatch, sample_env(tmp_path))
    defs = release_definitions()

    assert check_now(project_instance, defs, dry_run=True) == 0
    assert "wait for the MeSH vocabulary" in capsys.readouterr().out
    assert project_instance.get_latest_materialization_event(dg.AssetKey("mesh_vocabulary")) is None

    assert check_now(project_instance, defs) == 0
    assert project_instance.get_latest_materialization_event(dg.AssetKey("mesh_vocabulary"))
    loaded = project_instance.get_materialized_partitions(dg.AssetKey("pubmed_files"))
    assert loaded == set(SAMPLE_FILES)
    runs = project_instance.get_runs(dg.RunsFilter(job_name="pubmed_file_job"))
    assert [r.tags["dagster/partition"] for r in reversed(runs)] == SAMPLE_FILES
    assert {r.tags["mkailin/trigger"] for r in runs} == {"check_releases"}

    capsys.readouterr()
    assert check_now(project_instance, defs) == 0
    assert "no new release files and none to retry" in capsys.readouterr().out


def test_the_documented_command_runs(tmp_path):
    """`python -m mkailin_assets.automation.check_releases --dry-run` on a fresh instance."""
    home = project_home(tmp_path / "home")
    env = subprocess_env(sample_env(tmp_path, DAGSTER_HOME=str(home)))
    done = subprocess.run(
        [sys.executable, "-m", "mkailin_assets.automation.check_releases", "--dry-run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "requested a mesh_vocabulary run" in done.stdout


def _placed_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "citations_placed_in_categories"
    ]
    return evaluation


def test_a_file_loaded_before_the_vocabulary_fails_its_blocking_placement_check(
    tmp_path, monkeypatch
):
    from tests.harness import ephemeral_instance, materialize

    apply_env(monkeypatch, sample_env(tmp_path))
    instance = ephemeral_instance(SAMPLE_FILES)
    early_run = materialize(["pubmed_files"], SAMPLE_FILES[0], instance, raise_on_error=False)
    assert not early_run.success  # a failed blocking check fails the step in Dagster 1.13
    early = _placed_check(early_run)
    assert not early.passed
    assert early.metadata["violations"].value > 0
    assert "no MeSH vocabulary loaded" in early.metadata["if_failed"].value

    materialize(["mesh_vocabulary"], None, instance)
    later = _placed_check(materialize(["pubmed_files"], SAMPLE_FILES[1], instance))
    assert later.passed and later.metadata["violations"].value == 0
