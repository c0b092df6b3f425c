"""Skip what did not change: a fingerprint per materialized step (asset selection + partition).

A step's fingerprint hashes
- the code version: every source file of the package (Python, SQL, the C scanner) and
  pyproject.toml, so any change of code re-runs everything (coarse, never wrong);
- the settings: every MKAILIN_* value that shapes data (not the secrets, not the operational
  ones listed in OPERATIONAL);
- the step's own inputs outside the database: the files it reads (path, size, modification time);
- the fingerprints its upstream steps were last materialized with (a chain, so a change
  anywhere upstream reaches every step below it).

The demo materializes a step only when its fingerprint differs from the one recorded in the
DuckDB file after its last successful materialization (`step_fingerprints`). Stored in the
database, not in the Dagster instance, so a deleted or fresh database re-runs everything.
Why our own fingerprint rather than Dagster's code and data versions: the inputs that matter
are files and environment variables outside Dagster's graph, and a skipped step must cost no
run at all (a run's start-up alone is most of an unchanged step's time).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mkailin_assets import settings
from mkailin_assets.db import open_connection

# Settings that decide how and when things run, not what a step writes.
OPERATIONAL = frozenset(
    {
        "llm_api_key",
        "automation",
        "release_check",
        "release_check_interval",
        "release_max_attempts",
        "automation_interval",
        "refresh_quiet_s",
        "refresh_max_wait_s",
        "dead_run_check_interval",
        "run_max_retries",
        "run_retry_delay",
        # Where and how the same calls are sent, or the same twins found: not what is made.
        "model_workers",
        "model_workers_timeout_s",
        "word_scanner",
        "read_snapshot",
        "read_snapshot_inline_max_mb",
        "retrieval_threads",
        "llm_max_concurrency",
        "local_threads",
        "local_startup_timeout_s",
    }
)

TABLE_SQL = """
CREATE TABLE IF NOT EXISTS step_fingerprints (
    step VARCHAR, partition_key VARCHAR, fingerprint VARCHAR, recorded_at TIMESTAMP,
    PRIMARY KEY (step, partition_key))
"""

Step = tuple[str, str]  # (step name, partition key or "")


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the package's source: any edit re-runs every step."""
    root = settings.REPO_ROOT
    package = Path(__file__).resolve().parent
    paths = sorted(
        [
            *package.rglob("*.py"),
            *package.rglob("*.c"),
            *(root / "sql").rglob("*.sql"),
            root / "pyproject.toml",
        ]
    )
    digest = hashlib.sha256()
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def settings_digest() -> str:
    """The settings that shape data, plus the files every step may read (benchmarks, MeSH)."""
    current = settings.get_settings()
    values = current.model_dump(mode="json", exclude=set(OPERATIONAL))
    files = [current.mesh_source, *current.decontamination, current.eval_pubmedqa]
    payload = {"settings": values, "files": [file_stamp(path) for path in files]}
    return _hash(payload)


def file_stamp(path: str) -> str:
    """Path, size and modification time of a local file; a URL stands for itself."""
    candidate = Path(path)
    if "://" in path or not candidate.exists():
        return path
    stat = candidate.stat()
    return f"{candidate.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def _hash(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class Fingerprints:
    """The recorded fingerprints of one DuckDB file, and the decisions of one pipeline run."""

    db_path: str
    base: str  # code version + settings digest, the same for every step of a run

    @classmethod
    def for_current_settings(cls, db_path: str) -> Fingerprints:
        return cls(db_path, _hash([code_version(), settings_digest()]))

    def __post_init__(self) -> None:
        self._known: dict[Step, str] | None = None

    def recorded(self) -> dict[Step, str]:
        """Read once per run; `record` keeps it current (the demo is the only writer)."""
        if self._known is None:
            self._known = _read_recorded(self.db_path)
        return self._known

    def of(self, step: Step, upstream: Iterable[Step], inputs: Sequence[str] = ()) -> str:
        """The fingerprint `step` would be materialized with now."""
        known = self.recorded()
        chain = sorted((f"{s}[{k}]", known.get((s, k), "missing")) for s, k in upstream)
        return _hash([self.base, list(step), chain, [file_stamp(path) for path in inputs]])

    def unchanged(self, step: Step, fingerprint: str) -> bool:
        return self.recorded().get(step) == fingerprint

    def record(self, step: Step, fingerprint: str) -> None:
        con = open_connection(self.db_path)
        try:
            con.execute(TABLE_SQL)
            con.execute(
                "INSERT OR REPLACE INTO step_fingerprints VALUES (?, ?, ?, now())",
                [step[0], step[1], fingerprint],
            )
        finally:
            con.close()
        self.recorded()[step] = fingerprint


def _read_recorded(db_path: str) -> dict[Step, str]:
    if not Path(db_path).exists():
        return {}
    con = open_connection(db_path, read_only=True)
    try:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        if "step_fingerprints" not in tables:
            return {}
        rows = con.execute(
            "SELECT step, partition_key, fingerprint FROM step_fingerprints"
        ).fetchall()
    finally:
        con.close()
    return {(step, key): fp for step, key, fp in rows}
