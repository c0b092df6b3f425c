"""How a code server starts run processes (automation/run_start.py), on a stand-in server class:
the real code server is tests/integration/test_run_start.py's."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from multiprocessing import forkserver

import pytest
import yaml

from mkailin_assets.automation import run_start
from mkailin_assets.settings import REPO_ROOT


class StandInServer:
    """Sets its start method in __init__, as DagsterApiServer does before loading the code."""

    def __init__(self) -> None:
        self._mp_ctx = multiprocessing.get_context("spawn")


@pytest.fixture
def server_class(monkeypatch) -> type:
    monkeypatch.setattr(forkserver._forkserver, "_preload_modules", ["__main__"])
    return type("Server", (StandInServer,), {})


def test_forkserver_is_the_default_and_preloads_the_run_modules(server_class, monkeypatch):
    monkeypatch.delenv("MKAILIN_RUN_START", raising=False)
    server = server_class()  # built before the definitions load, as in a code server
    assert run_start.start_runs_warm(server_class) is True
    assert server._mp_ctx.get_start_method() == "forkserver"
    assert server_class()._mp_ctx.get_start_method() == "forkserver"
    assert forkserver._forkserver._preload_modules == [run_start.PRELOAD_MODULE]


def test_spawn_leaves_the_server_alone(server_class, monkeypatch):
    monkeypatch.setenv("MKAILIN_RUN_START", "Spawn")
    assert run_start.start_runs_warm(server_class) is False
    assert server_class()._mp_ctx.get_start_method() == "spawn"


def test_outside_a_code_server_nothing_changes(monkeypatch):
    monkeypatch.delitem(sys.modules, run_start.CODE_SERVER_MODULE, raising=False)
    assert run_start.start_runs_warm() is False


def test_an_unknown_start_method_names_the_setting(monkeypatch):
    from mkailin_assets.settings import get_settings

    monkeypatch.setenv("MKAILIN_RUN_START", "fork")
    with pytest.raises(ValueError, match="MKAILIN_RUN_START"):
        get_settings()


def test_the_dev_code_server_has_a_thread_for_every_launch_at_once():
    """Each launch holds one of the code server's threads until the run's process has started:
    the threads scripts/_env.sh gives `dagster dev`'s code server cover the daemon's launches at
    once in both instance files, with threads to spare for the UI and the sensors."""
    env = {name: value for name, value in os.environ.items() if name != "DAGSTER_GRPC_MAX_WORKERS"}
    out = subprocess.run(
        ["bash", "-c", 'source scripts/_env.sh && echo "$DAGSTER_GRPC_MAX_WORKERS"'],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    threads = int(out.stdout.strip())
    for instance_yaml in ("dagster.yaml", "deploy/dagster-postgres.yaml"):
        config = yaml.safe_load((REPO_ROOT / instance_yaml).read_text())["run_coordinator"][
            "config"
        ]
        assert config["dequeue_use_threads"] is True, instance_yaml
        assert threads >= config["dequeue_num_workers"] + 4, instance_yaml


def test_a_preload_that_fails_leaves_the_forkserver_up():
    """The definitions failing to import in the forkserver: it says so and goes on, so each run
    loads the code itself and reports the error where the user sees it."""
    code = (
        "import sys; sys.modules['mkailin_assets.definitions'] = None\n"
        "import mkailin_assets.run_preload\n"
        "print('still serving')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "still serving"
    assert "could not preload the definitions" in out.stderr
