"""How a code server starts run processes (automation/run_start.py), on a stand-in server class:
the real code server is tests/integration/test_run_start.py's."""

from __future__ import annotations

import multiprocessing
import sys
from multiprocessing import forkserver

import pytest

from mkailin_assets.automation import run_start


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
