"""read_snapshot_sensor: refreshes the read snapshot of a database too large to copy in a step.

A writing step copies the DuckDB file for readers only while it is small
(MKAILIN_READ_SNAPSHOT_INLINE_MAX_MB, db/snapshot.py). Past that size the copy would cost every
stage the whole file, so this sensor makes it instead: when the file changed since its snapshot
and no run is queued or running, it takes a read-only DuckDB lock (no writer can start
mid-copy) and copies. A burst of runs thus pays for one copy, after the last of them.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from mkailin_assets import settings
from mkailin_assets.automation.conditions import sensor_status
from mkailin_assets.automation.releases import BUSY
from mkailin_assets.db import open_connection, publish_snapshot
from mkailin_assets.db.connection import is_lock_conflict
from mkailin_assets.db.snapshot import read_snapshot_enabled, snapshot_is_stale

SENSOR_NAME = "read_snapshot_sensor"
# A run being cancelled may still hold the writer.


def refresh_when_idle(
    db_path: str | Path, runs_in_flight: int, lock_timeout_s: float = 5.0
) -> Path | str:
    """Copy the database to its snapshot if it changed and nothing runs; returns the snapshot's
    path when copied, else the reason it was not (a string)."""
    if not read_snapshot_enabled():
        return "the read snapshot is off (MKAILIN_READ_SNAPSHOT)"
    if not snapshot_is_stale(db_path):
        return "the read snapshot is up to date"
    if runs_in_flight:
        return f"{runs_in_flight} run(s) queued or running: the copy waits until they end"
    try:
        # Held for the copy: a writer that starts now waits for the lock, then writes.
        con = open_connection(db_path, read_only=True, lock_timeout_s=lock_timeout_s)
    except duckdb.IOException as error:
        if is_lock_conflict(error):
            return "a writer holds the database: the copy waits for the next tick"
        raise
    try:
        copied = publish_snapshot(db_path, inline=False)
    finally:
        con.close()
    return copied or "not copied: a write-ahead log says a writer is mid-way"


def build_read_snapshot_sensor(minimum_interval_seconds: int = 60) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=sensor_status(read_snapshot_enabled()),
        description=(
            "Copies the DuckDB file to <name>.read.duckdb for readers once no run is queued or "
            "running, when it is above MKAILIN_READ_SNAPSHOT_INLINE_MAX_MB (smaller files are "
            "copied after every write)."
        ),
    )
    def read_snapshot_sensor(context: dg.SensorEvaluationContext):
        busy = context.instance.get_runs_count(dg.RunsFilter(statuses=BUSY))
        outcome = refresh_when_idle(settings.get_settings().duckdb_path, busy)
        if isinstance(outcome, str):
            return dg.SkipReason(outcome)
        context.log.info(f"read snapshot refreshed: {outcome}")
        return dg.SkipReason(f"copied to {outcome}")

    return read_snapshot_sensor
