"""Whether another process holds a file's `flock`: how a model worker's lease on a job and a
GX service's lock on its socket are seen from outside."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Literal


def lock_state(path: Path) -> Literal["gone", "held", "free"]:
    """`gone` (no file), `held` (a process holds an exclusive lock on it) or `free`."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return "gone"
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "held"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return "free"
    finally:
        os.close(fd)
