"""Run a Great Expectations suite on a frame and turn the result into a Dagster check result.

GX cannot validate DuckDB through SQL (docs/stack-notes.md), so checks read the partition into a
pandas frame and validate it with an ephemeral context. GX is imported lazily: it takes
seconds to import and the code location must load fast; by default a run process does not
import it at all, the GX service validates for it (checks/gx_service.py).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from mkailin_assets.checks.deferred_modules import defer

# Imported by GX at import time, never used by our checks (charts for Data Docs, one
# distributional expectation): deferred until first read (checks/deferred_modules.py).
GX_DEFERRED_MODULES = ("altair", "scipy.stats")

# A suite is described as (expectation class name, kwargs) pairs so that callers need not
# import great_expectations themselves.
ExpectationSpec = tuple[str, dict[str, Any]]


_GX_IMPORT_LOCK = threading.Lock()
_gx_imported = False
_gx_import_thread: threading.Thread | None = None
_in_process_only = False  # validate_in_this_process()
IMPORT_THREAD, SERVICE_THREAD = "mkailin-gx-import", "mkailin-gx-service"
BACKGROUND_NICENESS = 10  # of the background import's thread
GX_IMPORT_WAIT_S = 120.0  # the longest a phase waits for that import before claiming the writer


def _import_gx() -> None:
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


def import_gx_in_background() -> threading.Thread | None:
    """Get the checks' GX ready in a thread, for an LLM stage whose model phase is about to
    wait on the server: the work overlaps the wait instead of coming after the write phase,
    before the checks. With the GX service (checks/gx_service.py) that is starting it if none
    runs; without, importing GX here. None when ready or being made ready already."""
    global _gx_import_thread
    running = _gx_import_thread is not None and _gx_import_thread.is_alive()
    if _gx_imported or running or _GX_IMPORT_LOCK.locked():
        return None
    if _service_enabled():
        target, name = _start_gx_service, SERVICE_THREAD
    else:
        target, name = _import_gx_politely, IMPORT_THREAD
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    _gx_import_thread = thread
    return thread


def finish_background_gx_import() -> None:
    """Wait for a background GX import still running: called before a phase claims the writer,
    so a held phase never shares the interpreter with the import (nor waits on the lower
    priority thread for the GIL)."""
    thread = _gx_import_thread
    # A thread starting the GX service only waits on another process: nothing to wait for.
    if thread is not None and thread.is_alive() and thread.name == IMPORT_THREAD:
        # Bounded: a phase never waits for ever on an import (the checks would still wait).
        thread.join(timeout=GX_IMPORT_WAIT_S)


def _import_gx_politely() -> None:
    # At a lower priority, this thread alone (Linux schedules threads as tasks): the import takes
    # the CPU other runs' held phases leave idle rather than stretching those phases.
    # Not Linux, or not allowed: the import runs at the process's priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
    _import_gx()


def validate_in_this_process() -> None:
    """For a process that runs many checks itself (the demo's one process, a test session):
    GX imported once here is cheaper than a request to the GX service per check."""
    global _in_process_only
    _in_process_only = True


def _service_enabled() -> bool:
    from mkailin_assets.settings import get_settings

    return not _in_process_only and get_settings().gx_service == "auto"


def _start_gx_service() -> None:
    from mkailin_assets.settings import get_settings

    with contextlib.suppress(OSError, ImportError):  # unavailable: the checks validate here
        from mkailin_assets.checks import gx_service

        gx_service.ensure_running(get_settings().gx_service_idle_s)


def warm_up_gx() -> None:
    """Import GX and what its first validation imports (the GX service, before it forks)."""
    _import_gx()
    _ephemeral_context()


def _ephemeral_context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    _import_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def validate_frame(
    suite_name: str, frame: Any, expectations: Sequence[ExpectationSpec]
) -> dict[str, Any]:
    """Validate a pandas (or Polars) frame; returns GX's describe_dict(). By the GX service
    when it is on and answers (this process then never imports GX), else here."""
    if hasattr(frame, "to_pandas"):
        frame = frame.to_pandas()
    if _service_enabled() and not _gx_imported:
        described = _validate_by_service(suite_name, frame, expectations)
        if described is not None:
            return described
    return validate_in_process(suite_name, frame, expectations)


def _validate_by_service(
    suite_name: str, frame: Any, expectations: Sequence[ExpectationSpec]
) -> dict[str, Any] | None:
    from mkailin_assets.settings import get_settings

    try:
        from mkailin_assets.checks import gx_service
    except ImportError:  # no fcntl or Unix sockets (not Linux or macOS): validate here
        return None
    return gx_service.validate(suite_name, frame, expectations, get_settings().gx_service_idle_s)


def validate_in_process(
    suite_name: str, frame: Any, expectations: Sequence[ExpectationSpec]
) -> dict[str, Any]:
    """validate_frame with GX imported into this process (the GX service's children run it)."""
    _import_gx()  # first: it defers modules the imports below would otherwise load
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


def _summarise(expectation: dict[str, Any]) -> str:
    kwargs = {k: v for k, v in expectation["kwargs"].items() if k != "batch_id"}
    result = expectation.get("result", {})
    status = "ok" if expectation["success"] else "FAILED"
    detail = ""
    if "unexpected_count" in result:
        detail = f" unexpected={result['unexpected_count']}"
        if result.get("partial_unexpected_list"):
            sample = [str(v)[:80] for v in result["partial_unexpected_list"][:3]]
            detail += f" e.g. {sample}"
    elif "observed_value" in result:
        detail = f" observed={result['observed_value']}"
    return f"{status}: {expectation['expectation_type']} {kwargs}{detail}"


def check_result_from_gx(
    described: dict[str, Any],
    extra_metadata: dict[str, Any] | None = None,
    check_name: str | None = None,
) -> dg.AssetCheckResult:
    """Map a GX result to an AssetCheckResult (severity ERROR, so blocking checks stop downstream)."""
    stats = described["statistics"]
    metadata: dict[str, Any] = {
        "gx_evaluated": stats["evaluated_expectations"],
        "gx_successful": stats["successful_expectations"],
        "gx_unsuccessful": stats["unsuccessful_expectations"],
        "gx_results": dg.MetadataValue.md(
            "\n".join(f"- {_summarise(e)}" for e in described["expectations"])
        ),
    }
    metadata.update(extra_metadata or {})
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=bool(described["success"]),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def run_check(
    check_name: str,
    frame: Any,
    expectations: Sequence[ExpectationSpec],
    extra_metadata: dict[str, Any] | None = None,
) -> dg.AssetCheckResult:
    described = validate_frame(check_name, frame, expectations)
    metadata = {"rows_validated": len(frame), **(extra_metadata or {})}
    return check_result_from_gx(described, metadata, check_name=check_name)


def run_query_check(
    con: Any,
    check_name: str,
    sql: str,
    params: list[Any],
    expectations: Sequence[ExpectationSpec],
    extra_metadata: dict[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """Validate the rows a query returns (read into pandas: GX cannot read DuckDB itself)."""
    return pending_query_check(con, check_name, sql, params, expectations, extra_metadata)()


# A check whose rows are read and whose GX validation is still to run: an LLM stage reads its
# checks' rows holding the DuckDB writer and validates them after letting it go (GX takes
# seconds; the rows are read in milliseconds).
PendingCheck = Callable[[], dg.AssetCheckResult]


def pending_check(
    check_name: str,
    frame: Any,
    expectations: Sequence[ExpectationSpec],
    extra_metadata: dict[str, Any] | None = None,
) -> PendingCheck:
    """run_check on `frame`, deferred until called."""
    return functools.partial(run_check, check_name, frame, expectations, extra_metadata)


def pending_query_check(
    con: Any,
    check_name: str,
    sql: str,
    params: list[Any],
    expectations: Sequence[ExpectationSpec],
    extra_metadata: dict[str, Any] | None = None,
) -> PendingCheck:
    """run_query_check with the rows read now and the validation deferred until called."""
    return pending_check(check_name, con.execute(sql, params).df(), expectations, extra_metadata)


def decided(result: dg.AssetCheckResult) -> PendingCheck:
    """A check SQL already decided, in the same form as the pending ones."""
    return lambda: result
