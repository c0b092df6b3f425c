"""Run a benchmark child process and measure it: its last stdout line is a JSON object of
figures, and its peak memory is the RSS summed over its whole process tree (parser workers,
model servers), sampled every 20 ms."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil


def tree_rss(process: psutil.Process) -> int:
    """Bytes resident in the process and all its descendants now."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker may exit between list and read
            total += member.memory_info().rss
    return total


def run_measured(
    command: Sequence[str], what: str, cwd: Path, env: Mapping[str, str]
) -> tuple[dict[str, Any], int]:
    """The child's figures (its last JSON line) and its process tree's peak RSS in bytes;
    SystemExit naming `what` when the child fails."""
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)
    watched = psutil.Process(process.pid)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], tree_rss(watched))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{what} failed with exit code {process.returncode}")
    return json.loads(output.strip().splitlines()[-1]), peak[0]
