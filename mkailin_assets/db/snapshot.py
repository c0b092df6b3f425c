"""The read snapshot: a copy of the DuckDB file that readers open while runs write.

DuckDB allows one read-write process per file, and while it holds the file no other process can
open it, not even read-only (docs/stack-notes.md). So after every write the store copies the
closed (checkpointed) file beside itself as `<name>.read.duckdb`, through a temporary file and an
atomic rename: a reader always opens a whole snapshot, and one already open keeps the copy it
opened. Query it with `duckdb.connect(".../mkailin.read.duckdb", read_only=True)`.
MKAILIN_READ_SNAPSHOT=off turns the copy off (e.g. for a very large file).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from mkailin_assets import settings

SNAPSHOT_SUFFIX = ".read.duckdb"


def read_snapshot_enabled() -> bool:
    return settings.get_settings().read_snapshot


def snapshot_path(db_path: str | Path) -> Path:
    path = Path(db_path)
    return path.with_name(path.stem + SNAPSHOT_SUFFIX)


def publish_snapshot(db_path: str | Path) -> Path | None:
    """Copy the closed database to its snapshot; None when off, absent, or not checkpointed
    (a WAL beside the file means another writer is mid-way: the next write publishes)."""
    source = Path(db_path)
    if not read_snapshot_enabled() or not source.exists():
        return None
    if source.with_name(source.name + ".wal").exists():
        return None
    target = snapshot_path(source)
    staging = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    try:
        shutil.copyfile(source, staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target
