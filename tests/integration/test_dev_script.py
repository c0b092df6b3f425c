"""./scripts/dev.sh refuses to start a second `dagster dev` on an instance already in use."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess

import pytest

from mkailin_assets.settings import REPO_ROOT


@pytest.mark.skipif(shutil.which("flock") is None, reason="util-linux flock is not installed")
def test_a_second_dev_script_on_the_same_instance_refuses_and_names_the_first(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    lock = home / ".dev.lock"
    with lock.open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write_text("4321\n")
        done = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "dev.sh")],
            env={**os.environ, "DAGSTER_HOME": str(home), "MKAILIN_PORT": "1"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "another ./scripts/dev.sh (pid 4321) already runs" in done.stderr
    assert str(home) in done.stderr
    assert not (home / "dagster.yaml").exists()  # it stopped before touching the instance
