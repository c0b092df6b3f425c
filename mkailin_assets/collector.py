"""The cyclic garbage collector in the project's processes.

A run process imports Dagster, the project, openai's types and GX (about half a million objects
that live as long as it does), then makes many short-lived containers (events, pydantic models,
JSON). With Python's default young-generation threshold (700 allocations) it ran about 900
collections per LLM run, 0.8-1.0 CPU-s of the 8-12 a run spends; with 20,000 it runs about 30,
0.4 CPU-s (measured on one run process of both LLM stages, `gc.callbacks`). Cycles still get
collected, only later: a young generation of 20,000 containers is a few MB at most.
"""

from __future__ import annotations

import functools
import gc

# Python's default for the young generation; a process whose owner changed it keeps theirs.
PYTHON_DEFAULT_YOUNG_THRESHOLD = 700
YOUNG_THRESHOLD = 20_000


def collect_less_often() -> bool:
    """Raise the young generation's threshold unless someone already tuned it; True if raised."""
    young, middle, old = gc.get_threshold()
    if young != PYTHON_DEFAULT_YOUNG_THRESHOLD:
        return False
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    return True


@functools.cache
def freeze_start_up() -> None:
    """Once per process, before its first LLM stage: what exists now is start-up's (modules,
    classes, Dagster's definitions), alive until the process ends. Frozen, it is no longer walked
    by the cyclic collector's full collections during the stages (0.8 CPU-s of them per run)."""
    gc.freeze()
