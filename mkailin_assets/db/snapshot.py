"""The read snapshot: a copy of the DuckDB file that readers open while runs write.

DuckDB allows one read-write process per file, and while it holds the file no other process can
open it, not even read-only (docs/stack-notes.md). So the closed (checkpointed) file is copied
beside itself as `<name>.read.duckdb`, through a temporary file and an atomic rename: a reader
always opens a whole snapshot, and one already open keeps the copy it opened. Query it with
`duckdb.connect(".../mkailin.read.duckdb", read_only=True)`.

When: a copy costs the whole file (7 s for the 2.9 GB of 1.9M citations here), so a writing step
copies only a file up to MKAILIN_READ_SNAPSHOT_INLINE_MAX_MB (default 256). A larger file is
copied by `read_snapshot_sensor` (automation/read_snapshot.py) once no run is queued or running,
under a read-only DuckDB lock, so no writer can start mid-copy: one copy per burst of runs, none
inside a stage. MKAILIN_READ_SNAPSHOT=off turns the copy off.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from mkailin_assets import settings

LOG = logging.getLogger(__name__)
SNAPSHOT_SUFFIX = ".read.duckdb"


def read_snapshot_enabled() -> bool:
    return settings.get_settings().read_snapshot


def snapshot_path(db_path: str | Path) -> Path:
    path = Path(db_path)
    return path.with_name(path.stem + SNAPSHOT_SUFFIX)


def inline_limit_bytes() -> int:
    return settings.get_settings().read_snapshot_inline_max_mb * 2**20


def snapshot_is_stale(db_path: str | Path) -> bool:
    """The database changed after its snapshot was taken (or there is none)."""
    source, target = Path(db_path), snapshot_path(db_path)
    if not source.exists():
        return False
    return not target.exists() or source.stat().st_mtime_ns > target.stat().st_mtime_ns


def publish_snapshot(db_path: str | Path, *, inline: bool = True) -> Path | None:
    """Copy the closed database to its snapshot; None when off, absent, not checkpointed (a WAL
    beside the file means another writer is mid-way: the next write publishes) or, for an inline
    copy (after a write, inside the step), larger than the inline limit: the sensor copies it."""
    source = Path(db_path)
    if not read_snapshot_enabled() or not source.exists():
        return None
    if source.with_name(source.name + ".wal").exists():
        return None
    size = source.stat().st_size
    if inline and size > inline_limit_bytes():
        LOG.info(
            "read snapshot left to read_snapshot_sensor: %s is %d MB, above "
            "MKAILIN_READ_SNAPSHOT_INLINE_MAX_MB",
            source,
            size // 2**20,
        )
        return None
    target = snapshot_path(source)
    staging = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    try:
        shutil.copyfile(source, staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target
