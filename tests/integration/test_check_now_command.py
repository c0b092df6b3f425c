"""The README's check-now command, run as written (a relative DAGSTER_HOME, no source set): it
checks the settings, takes the bundled sample as `./scripts/dev.sh` does, and decides."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

from mkailin_assets import settings


def readme_command() -> str:
    readme = (settings.REPO_ROOT / "README.md").read_text()
    (line,) = [
        line
        for line in readme.splitlines()
        if line.startswith("DAGSTER_HOME=") and "check_releases" in line
    ]
    return line.strip()


def test_the_readme_check_now_command_runs_as_written(tmp_path) -> None:
    command = readme_command()
    assert command.startswith("DAGSTER_HOME=.dagster_home ")  # relative, as a user types it
    words = shlex.split(command.replace("[--dry-run]", "--dry-run"))
    assignments = dict(w.split("=", 1) for w in words if re.match(r"^[A-Z_]+=", w))
    program = [w for w in words if not re.match(r"^[A-Z_]+=", w)]
    assert program[0] == ".venv/bin/python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(settings.ENV_PREFIX)}
    env.pop("DAGSTER_HOME", None)
    env |= assignments | {"MKAILIN_DUCKDB_PATH": str(tmp_path / "mkailin.duckdb")}
    env["PYTHONPATH"] = str(settings.REPO_ROOT)
    result = subprocess.run(
        [sys.executable, *program[1:]],
        cwd=tmp_path,  # a user's folder: .dagster_home is made here
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"release check: {settings.SAMPLE_PUBMED_SOURCE}" in result.stdout
    assert f"(instance {tmp_path / '.dagster_home'})" in result.stdout
    assert "mesh_vocabulary" in result.stdout  # the decision: the vocabulary first
    assert (tmp_path / ".dagster_home" / "dagster.yaml").is_file()
