"""GX's unused imports (altair, scipy.stats) are deferred: GX validates without them, and code
that does use them still gets the real module."""

from __future__ import annotations

import os
import textwrap

from tests.harness import python_json

PROBE = textwrap.dedent(
    """
    import json, sys
    import polars as pl
    from mkailin_assets.checks.deferred_modules import is_loaded
    from mkailin_assets.checks.gx_runner import validate_frame

    frame = pl.DataFrame({"pmid": [1, 2, None], "score": [0.1, 0.5, 0.9]})
    result = validate_frame(
        "probe",
        frame,
        [
            ("ExpectColumnValuesToNotBeNull", {"column": "pmid"}),
            ("ExpectColumnValuesToBeBetween", {"column": "score", "min_value": 0, "max_value": 1}),
        ],
    )
    before = {name: is_loaded(name) for name in ("altair", "scipy.stats")}
    import altair as alt
    from scipy import stats
    entropy = float(stats.entropy([0.5, 0.5], [0.9, 0.1]))
    chart = type(alt.Chart()).__name__
    after = {name: is_loaded(name) for name in ("altair", "scipy.stats")}
    print(json.dumps({
        "success": result["success"],
        "outcomes": [r["success"] for r in result["expectations"]],
        "before": before, "after": after, "entropy": entropy, "chart": chart,
        "real_in_sys_modules": type(sys.modules["scipy.stats"]).__name__,
    }))
    """
)


def run_probe(code: str) -> dict:
    """`code` in a fresh interpreter, with GX in that process, as without the GX service
    (tests/integration/test_gx_service.py has it)."""
    return python_json(code, {**os.environ, "MKAILIN_GX_SERVICE": "off"})


def test_gx_validates_without_altair_and_scipy_stats_which_still_work_when_used():
    probe = run_probe(PROBE)
    assert probe["success"] is False and probe["outcomes"] == [False, True]
    assert probe["before"] == {"altair": False, "scipy.stats": False}
    assert probe["after"] == {"altair": True, "scipy.stats": True}
    assert abs(probe["entropy"] - 0.5108256) < 1e-6 and probe["chart"] == "Chart"
    assert probe["real_in_sys_modules"] == "module"


BACKGROUND_PROBE = textwrap.dedent(
    """
    import json, sys
    import polars as pl
    from mkailin_assets.checks import gx_runner, gx_validation

    import os, threading
    niceness = []
    original = gx_runner._import_gx
    def spy():
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        original()
    gx_runner._import_gx = spy
    thread = gx_runner.import_gx_in_background()
    again = gx_runner.import_gx_in_background()  # while the first is importing
    # The checks do not wait for the thread: a caller meanwhile waits for the same import.
    result = gx_runner.validate_frame(
        "probe", pl.DataFrame({"pmid": [1, 2]}),
        [("ExpectColumnValuesToNotBeNull", {"column": "pmid"})],
    )
    gx_runner.finish_background_gx_import()  # as a phase does before it claims the writer
    print(json.dumps({
        "started": thread is not None, "again": again is None,
        "thread_name": thread.name, "alive": thread.is_alive(),
        "imported": "great_expectations" in sys.modules and gx_validation.gx_imported(),
        "success": result["success"],
        "after": gx_runner.import_gx_in_background() is None,
        "thread_niceness": niceness[0] - os.getpriority(os.PRIO_PROCESS, 0),
    }))
    """
)


def test_gx_imports_in_the_background_once_and_a_check_meanwhile_waits_for_it():
    probe = run_probe(BACKGROUND_PROBE)
    assert probe == {
        "started": True,
        "again": True,
        "thread_name": "mkailin-gx-import",
        "alive": False,
        "imported": True,
        "success": True,
        "after": True,
        "thread_niceness": 10,  # the import thread yields to other work; the process does not
    }
