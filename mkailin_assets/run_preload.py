"""Imported once in the forkserver that run processes are forked from (automation/run_start.py):
an entry point above the code location, as demo.py is.

What every run process needs before its first step: Dagster's run entry point, the project's
definitions resolved into the repository a run reconstructs, and openai's client types. The
objects made here live as long as each run process does, so they are frozen out of the cyclic
collector's walks, which would also touch, and so copy, the pages the forked processes share.

A failure here must not take the forkserver down: the run process then loads the code itself,
as a spawned one would, and reports the error in the run where the user sees it.
"""

from __future__ import annotations

import gc
import sys
import traceback


def warm_up() -> None:
    import dagster._grpc.impl  # noqa: F401  (start_run_in_subprocess, the run's entry)
    import openai  # noqa: F401

    from mkailin_assets.definitions import defs

    defs.get_repository_def()


try:
    warm_up()
except Exception:  # the run reports it: see the docstring
    print("mkailin: the run forkserver could not preload the definitions:", file=sys.stderr)
    traceback.print_exc()
gc.freeze()
