"""Faults around the healing operations: the instance folder on a full disk (a one-line error
naming it, then the sweep completes once space is freed), and a DuckDB file held by someone
else's session (the run's failure names the lock holder and counts as transient: retried)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._utils.error import serializable_error_info_from_exc_info

from mkailin_assets.automation import retries
from mkailin_assets.automation.run_workers import HOST_TAG, PID_TAG, this_host
from mkailin_assets.db import open_connection
from mkailin_assets.settings import REPO_ROOT


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def tiny_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> Path:
    filler = path / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def sweep(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkailin_assets.automation.dead_runs"],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_full_instance_disk_is_one_clear_line_and_the_sweep_completes_once_freed(tiny_disk):
    home = tiny_disk / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        run = instance.create_run_for_job(
            dg.GraphDefinition(name="g", node_defs=[]).to_job(name="category_pipeline_job"),
            tags={PID_TAG: str(dead_pid()), HOST_TAG: this_host()},
            status=dg.DagsterRunStatus.STARTED,
        )
    filler = fill(tiny_disk)
    full = sweep(home)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    assert f"the Dagster instance in {home} cannot be written: its disk is full" in full.stderr
    filler.unlink()
    freed = sweep(home)
    assert freed.returncode == 0, freed.stderr
    assert "1 run(s) whose worker is gone marked failed" in freed.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE


def test_a_duckdb_file_held_by_a_users_session_fails_naming_the_holder_and_is_retried(tmp_path):
    path = tmp_path / "mkailin.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import duckdb, sys, time
                con = duckdb.connect({str(path)!r})  # a user's session left open
                print("held", flush=True)
                time.sleep(60)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException) as caught:
            open_connection(path, lock_timeout_s=0.5)
        info = serializable_error_info_from_exc_info((caught.type, caught.value, caught.tb))
    finally:
        holder.kill()
        holder.wait()
    cause = retries.classify_error(info)
    assert cause.transient
    assert f"PID {holder.pid}" in cause.reason  # the lock holder, as the OS tells DuckDB
    open_connection(path, lock_timeout_s=5).close()  # once the session is gone, it opens
