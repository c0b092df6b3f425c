"""Spools: every answer the client pays for is on disk before the run moves on.

A client writing without the DuckDB file (its model calls run while another run writes) appends
each finished call to its own JSON-lines file under `<database>.spool/`, flushed and fsynced
before the item counts as done. The file is locked (flock) while its client lives; the write
phase imports it into `llm_calls` in one transaction and deletes it. A spool whose lock is free
belongs to a process that died: the next write phase of any run imports it first.

Line 1 is a header naming the format version; every further line is one complete call record.
A line that does not parse (a write cut by a crash) or a file of an unknown version is refused
with a message naming the file, and kept beside it as `<name>.refused`: never a silent drop.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SPOOL_VERSION = 1
SPOOL_SUFFIX = ".jsonl"
REFUSED_SUFFIX = ".refused"


class SpoolError(RuntimeError):
    """The spool could not be written (disk full, permissions): the run stops, naming the file."""


def spool_dir_for(database_path: str | Path) -> Path:
    """`<database>.spool/` beside the DuckDB file."""
    path = Path(database_path)
    return path.with_name(path.name + ".spool")


def new_holder() -> str:
    """A name for one client's claims and spool: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True when `holder` names a process of this host that no longer runs (its claims need
    not wait out their lease). A holder of another host is never judged from here."""
    host, _, rest = holder.rpartition("-")[0].rpartition("-")
    pid = rest
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Spool:
    """One client's spool file, created on the first append and locked while it is open."""

    def __init__(self, directory: Path, holder: str) -> None:
        self.directory = directory
        self.holder = holder
        self.path = directory / f"{holder}{SPOOL_SUFFIX}"
        self._file: Any = None
        self._lock = threading.Lock()  # answers finish on several threads
        self.pending: list[dict[str, Any]] = []  # rows on disk, not yet in llm_calls

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write the rows and fsync: when this returns they survive a crash."""
        if not rows:
            return
        text = "".join(json.dumps(row, default=str, ensure_ascii=False) + "\n" for row in rows)
        with self._lock:
            try:
                handle = self._open()
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as error:
                raise SpoolError(
                    f"could not write the LLM spool {self.path}: {error.strerror or error}"
                    " (answers already on disk are kept and imported by the next run)"
                ) from error
            self.pending.extend(rows)

    def _open(self) -> Any:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open, closed in close()
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            header = {
                "mkailin_spool": SPOOL_VERSION,
                "holder": self.holder,
                "created_at": datetime.now(UTC).isoformat(),
            }
            handle.write(json.dumps(header) + "\n")
            self._file = handle
        return self._file

    def committed(self) -> None:
        """The pending rows are in llm_calls: the file goes (a new one starts on next append)."""
        with self._lock:
            self.pending = []
            self._close(delete=True)

    def close(self, delete: bool = False) -> None:
        with self._lock:
            self._close(delete)

    def _close(self, delete: bool) -> None:
        if self._file is not None:
            if delete:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
            self._file.close()  # releases the lock
            self._file = None


@dataclass
class SpoolRead:
    """What an orphaned spool held: whole rows, and what was refused (with the reason)."""

    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    refused_lines: list[str] = field(default_factory=list)
    reason: str | None = None


def read_spool(path: Path) -> SpoolRead:
    """Whole rows of a spool file; a torn or unparsable line is refused, an unknown version
    refuses the whole file."""
    read = SpoolRead(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = handle.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline after the last whole line
    if not lines:
        return read
    try:
        header = json.loads(lines[0])
        version = header.get("mkailin_spool") if isinstance(header, dict) else None
    except json.JSONDecodeError:
        version = None
    if version != SPOOL_VERSION:
        read.refused_lines = lines
        read.reason = (
            f"spool {path} has format version {version!r}, this version reads {SPOOL_VERSION}:"
            " the whole file is refused"
        )
        return read
    for line in lines[1:]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            read.refused_lines.append(line)
            continue
        if isinstance(row, dict) and row.get("call_id") and row.get("status"):
            read.rows.append(row)
        else:
            read.refused_lines.append(line)
    if read.refused_lines:
        read.reason = (
            f"spool {path}: {len(read.refused_lines)} line(s) were not whole records"
            f" (a write cut short); {len(read.rows)} whole record(s) imported"
        )
    return read


def orphaned_spools(directory: Path, own: Path | None = None) -> list[Path]:
    """Spool files no living client holds (their lock is free), oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob(f"*{SPOOL_SUFFIX}"), key=_mtime):
        if own is not None and path == own:
            continue
        if _lock_is_free(path):
            found.append(path)
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _lock_is_free(path: Path) -> bool:
    try:
        with open(path, "a", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return True
    except FileNotFoundError:
        return False


def set_aside_refused(read: SpoolRead) -> Path | None:
    """Keep refused lines beside the spool as `<name>.refused` (appended, never overwritten)."""
    if not read.refused_lines:
        return None
    target = read.path.with_name(read.path.name + REFUSED_SUFFIX)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in read.refused_lines))
    return target
