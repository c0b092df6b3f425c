"""Run a Great Expectations suite on a frame and turn the result into a Dagster check result.

GX cannot validate DuckDB through SQL (docs/stack-notes.md), so checks read the partition into a
pandas frame and validate it with an ephemeral context. GX is imported lazily: it takes
seconds to import and the code location must load fast; by default a run process does not
import it at all, the GX service validates for it (checks/gx_service.py).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from mkailin_assets.checks import gx_validation
from mkailin_assets.checks.gx_validation import ExpectationSpec, validate_in_process
from mkailin_assets.checks.gx_validation import import_gx as _import_gx

__all__ = ["ExpectationSpec", "validate_frame", "validate_in_process"]

_gx_import_thread: threading.Thread | None = None
_in_process_only = False  # validate_in_this_process()
IMPORT_THREAD, SERVICE_THREAD = "mkailin-gx-import", "mkailin-gx-service"
BACKGROUND_NICENESS = 10  # of the background import's thread
GX_IMPORT_WAIT_S = 120.0  # the longest a phase waits for that import before claiming the writer


def import_gx_in_background() -> threading.Thread | None:
    """Get the checks' GX ready in a thread, for an LLM stage whose model phase is about to
    wait on the server: the work overlaps the wait instead of coming after the write phase,
    before the checks. With the GX service (checks/gx_service.py) that is starting it if none
    runs; without, importing GX here. None when ready or being made ready already."""
    global _gx_import_thread
    running = _gx_import_thread is not None and _gx_import_thread.is_alive()
    if gx_validation.gx_imported() or running or gx_validation.import_in_progress():
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


def validate_frame(
    suite_name: str, frame: Any, expectations: Sequence[ExpectationSpec]
) -> dict[str, Any]:
    """Validate a pandas (or Polars) frame; returns GX's describe_dict(). By the GX service
    when it is on and answers (this process then never imports GX), else here."""
    if hasattr(frame, "to_pandas"):
        frame = frame.to_pandas()
    if _service_enabled() and not gx_validation.gx_imported():
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
