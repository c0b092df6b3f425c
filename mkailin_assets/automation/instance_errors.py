"""A Dagster instance that cannot be written (its folder on a full disk, read-only, gone) is a
user's situation, not a bug: the command-line tools of automation/ say so in one line."""

from __future__ import annotations

import errno
import os

_MARKERS = ("database or disk is full", "no space left on device", "disk i/o error")


def instance_write_problem(error: BaseException) -> str | None:
    """One line naming DAGSTER_HOME when `error` (or its cause) is the instance's storage
    refusing writes; None for any other error."""
    seen: BaseException | None = error
    while seen is not None:
        text = str(seen).lower()
        full = isinstance(seen, OSError) and seen.errno == errno.ENOSPC
        if full or any(marker in text for marker in _MARKERS):
            home = os.environ.get("DAGSTER_HOME", "(DAGSTER_HOME unset)")
            return (
                f"error: the Dagster instance in {home} cannot be written: its disk is full "
                f"({str(seen).strip().splitlines()[0][:120]}). Free space there, then start again."
            )
        seen = seen.__cause__ or seen.__context__
    return None
