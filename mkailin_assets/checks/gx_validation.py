"""Great Expectations in this process: importing it (once, cheaply) and validating a frame with
an ephemeral context. Used by run processes that validate themselves and by the GX service's
children (checks/gx_service.py); checks/gx_runner.py decides which validates."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Sequence
from typing import Any

from mkailin_assets.checks.deferred_modules import defer

# Imported by GX at import time, never used by our checks (charts for Data Docs, one
# distributional expectation): deferred until first read (checks/deferred_modules.py).
GX_DEFERRED_MODULES = ("altair", "scipy.stats")

# A suite is described as (expectation class name, kwargs) pairs so that callers need not
# import great_expectations themselves.
ExpectationSpec = tuple[str, dict[str, Any]]

_GX_IMPORT_LOCK = threading.Lock()
_gx_imported = False


def gx_imported() -> bool:
    return _gx_imported


def import_in_progress() -> bool:
    return _GX_IMPORT_LOCK.locked()


def import_gx() -> None:
    """Import GX (about 3 CPU-seconds, 2 with altair and scipy.stats deferred: the largest part
    of an LLM run's own CPU) without the cyclic collector: it would walk the ~400k objects the
    import makes, all of which live as long as the process, over and over while they are made
    (0.6 s). Frozen afterwards, they and everything older are not walked by later full
    collections either. Once per process; a second caller waits for the first."""
    global _gx_imported
    with _GX_IMPORT_LOCK:
        if _gx_imported:
            return
        defer(GX_DEFERRED_MODULES)
        enabled = gc.isenabled()
        gc.disable()
        try:
            import great_expectations  # noqa: F401
            import great_expectations.expectations  # noqa: F401 - the part the checks use
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
        _gx_imported = True


def warm_up_gx() -> None:
    """Import GX and what its first validation imports (the GX service, before it forks)."""
    import_gx()
    _ephemeral_context()


def _ephemeral_context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def validate_in_process(
    suite_name: str, frame: Any, expectations: Sequence[ExpectationSpec]
) -> dict[str, Any]:
    """validate_frame with GX imported into this process (the GX service's children run it)."""
    import_gx()  # first: it defers modules the imports below would otherwise load
    import great_expectations as gx
    import great_expectations.expectations as gxe

    if hasattr(frame, "to_pandas"):
        frame = frame.to_pandas()
    context = _ephemeral_context()
    batch = (
        context.data_sources.add_pandas(f"{suite_name}_source")
        .add_dataframe_asset(f"{suite_name}_frame")
        .add_batch_definition_whole_dataframe(f"{suite_name}_batch")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    for class_name, kwargs in expectations:
        suite.add_expectation(getattr(gxe, class_name)(**kwargs))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch, suite=suite)
    )
    return validation.run(batch_parameters={"dataframe": frame}).describe_dict()
