"""How the code server starts a run's process: forked from a warm process, not a fresh one.

Dagster's code server (`dagster dev`, `dagster code-server start`, `dagster api grpc`) starts each
launched run's process with multiprocessing's "spawn": a fresh interpreter that imports Dagster,
the project's definitions and openai again before the run's first step: about 3 CPU-s per run
(docs/scale-out.md §8), all at once when a backfill launches many category runs together on a
few cores. With "forkserver" the code server's first run starts one helper
process that imports them once (`run_preload`); every run's process is then forked from it and
starts with them already imported. Python's own mechanism: the run's arguments still travel
pickled, as with spawn, and the process is still Dagster's (its pid, its termination event, its
exit code), so run monitoring, termination and dead_run_sensor see no difference.

The code server keeps one forkserver for its life: new code means a new code server (a reload
in the UI starts one), and with it a new forkserver. `MKAILIN_RUN_START=spawn` keeps Dagster's
default.
"""

from __future__ import annotations

import multiprocessing
import sys
from multiprocessing.context import BaseContext
from typing import Any

from mkailin_assets.settings import get_settings

PRELOAD_MODULE = "mkailin_assets.run_preload"
# The module of Dagster's code server; present in sys.modules only in a code server's process.
CODE_SERVER_MODULE = "dagster._grpc.server"


def run_process_context() -> BaseContext | None:
    """The multiprocessing context run processes should start with; None for Dagster's own."""
    if get_settings().run_start != "forkserver":
        return None
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD_MODULE])
    return context


def start_runs_warm(server_class: Any | None = None) -> bool:
    """In a code server, make it start run processes from the warm forkserver; True if it will.

    Called when the definitions load: the code server has set its start method by then (in
    `DagsterApiServer.__init__`, before loading code), so the class gets a property that answers
    for every server in this process and ignores the assignment."""
    if server_class is None:
        module = sys.modules.get(CODE_SERVER_MODULE)
        if module is None:  # not a code server: the demo, tests, a run process
            return False
        server_class = module.DagsterApiServer
    context = run_process_context()
    if context is None:
        return False
    server_class._mp_ctx = property(lambda _server: context, lambda _server, _value: None)
    return True
