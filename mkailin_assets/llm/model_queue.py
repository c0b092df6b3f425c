"""The model workers' job queue: files in one directory every machine reaches (MKAILIN_MODEL_WORKERS).

    DIR/jobs/<job id>.json      a model phase's misses, written by a run (temp file + rename)
    DIR/results/<job id>.json   the worker's answer records and accounting (temp file + rename)

A worker takes a job by holding an exclusive `flock` on its file for as long as it works on it:
that lock is the lease. A worker that dies loses it (the OS frees the lock), and the next worker
that looks takes the job over; what the dead one paid is in its spool, which the job names (the
database's spool directory), and in the live store, so the new one pays nothing twice. The
worker writes the result, then removes the job; the run reads the result and removes it. A run
that gives up removes its job; results nobody read (a run killed while it waited) are removed
by the workers after a day.

Nothing secret travels: a job holds request bodies (models, messages, sampling) and the run's
remaining budget; the endpoint and key are the worker's own settings.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mkailin_assets.file_locks import lock_state
from mkailin_assets.llm.types import PreparedCall

JOB_VERSION = 1
JOBS = "jobs"
RESULTS = "results"
RESULT_KEEP_S = 24 * 3600.0  # a result nobody read (its run was killed) goes after this


class ModelWorkerUnavailable(RuntimeError):
    """No model worker took a job (or took it over) within the timeout."""


class ModelWorkerFailed(RuntimeError):
    """A model worker took the job and reported an error instead of answers."""


def jobs_dir(queue: Path) -> Path:
    return queue / JOBS


def results_dir(queue: Path) -> Path:
    return queue / RESULTS


def new_job_id() -> str:
    return uuid.uuid4().hex


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file beside `path`, fsync, rename: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, default=str, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    with contextlib.suppress(OSError):  # the rename itself, durable on the directory
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def model_path(model: type[BaseModel] | None) -> str | None:
    return None if model is None else f"{model.__module__}:{model.__qualname__}"


def model_from_path(path: str | None) -> type[BaseModel] | None:
    if not path:
        return None
    module, _, name = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


def call_to_json(call: PreparedCall) -> dict[str, Any]:
    return {
        "key": call.key,
        "kind": call.kind,
        "role": call.role,
        "item_id": call.item_id,
        "model": call.model,
        "prompt_version": call.prompt_version,
        "body": call.body,
        "response_model": model_path(call.response_model),
    }


def call_from_json(values: dict[str, Any]) -> PreparedCall:
    return PreparedCall(
        key=values["key"],
        kind=values["kind"],
        role=values["role"],
        item_id=values["item_id"],
        model=values["model"],
        prompt_version=values["prompt_version"],
        body=values["body"],
        response_model=model_from_path(values.get("response_model")),
    )


def job_state(path: Path) -> str:
    """`gone` (no file), `taken` (a worker holds its lock) or `waiting`."""
    return {"gone": "gone", "held": "taken", "free": "waiting"}[lock_state(path)]


@dataclass
class TakenJob:
    """A job this worker holds the lease of (the lock on its file)."""

    path: Path
    fd: int
    data: dict[str, Any]

    @property
    def job_id(self) -> str:
        return self.path.stem

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)  # frees the lock


def take_next(queue: Path) -> TakenJob | None:
    """The oldest job no worker holds, with its lock held; None when there is none."""
    directory = jobs_dir(queue)
    if not directory.is_dir():
        return None
    paths = []
    for path in directory.glob("*.json"):
        with contextlib.suppress(FileNotFoundError):
            paths.append((path.stat().st_mtime, path))
    for _, path in sorted(paths):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        job = _held(path, fd)
        if job is not None:
            return job
    return None


def _held(path: Path, fd: int) -> TakenJob | None:
    """The job behind a locked fd, unless it was removed meanwhile or is already answered."""
    try:
        if os.fstat(fd).st_ino != path.stat().st_ino:
            raise FileNotFoundError(path)
        if (results_dir(path.parent.parent) / path.name).exists():
            path.unlink(missing_ok=True)  # answered by a worker that died before removing it
            raise FileNotFoundError(path)
        with os.fdopen(os.dup(fd), encoding="utf-8") as handle:
            data = json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError):
        os.close(fd)
        return None
    return TakenJob(path, fd, data)


def prune_results(queue: Path, keep_s: float = RESULT_KEEP_S) -> int:
    """Remove results older than `keep_s` (their runs died waiting); returns how many."""
    directory = results_dir(queue)
    if not directory.is_dir():
        return 0
    cutoff, removed = time.time() - keep_s, 0
    for path in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
