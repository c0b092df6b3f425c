"""The instance class of deploy/dagster-postgres.yaml (`instance_class`): Dagster's instance whose
PostgreSQL storages keep their connections instead of opening one per query.

dagster-postgres builds each storage's engine with SQLAlchemy's NullPool: every event written,
every run-status read and every pool-slot claim opens a new connection, and PostgreSQL forks a
backend process for each and authenticates it. A run process writes hundreds of events and
claims the `duckdb` pool's slot around every phase, so on a 2-core machine with eight category
runs the connections alone cost about 2 CPU-seconds of the server and 2 of the run per run
(docs/scale-out.md §8). Only the webserver pools them (`optimize_for_webserver`).

Here every process that loads the instance (run workers, the daemon, the CLI) keeps up to
`pool_size` idle connections per storage; more at once still open (and then close) as before, so
no thread waits on the pool. Each connection is checked before reuse (`pool_pre_ping`), so a
restarted server costs a reconnect, not a failed query; a forked child drops the parent's
connections. The webserver still replaces the engines with its own (statement timeout).
"""

from __future__ import annotations

import os
import weakref
from typing import Any

import dagster as dg
from dagster import Field, IntSource

DEFAULT_POOL_SIZE = 2
DEFAULT_RECYCLE_S = 3600

# The storages whose engines were pooled in this process (a forked child disposes of them).
_POOLED: weakref.WeakSet = weakref.WeakSet()


class PooledPostgresInstance(dg.DagsterInstance):
    """DagsterInstance whose PostgreSQL storages pool connections (`postgres_pool` in the yaml)."""

    def __init__(self, *args: Any, postgres_pool: dict[str, int] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        settings = postgres_pool or {}
        self.pooled_storages = pool_postgres_connections(
            [self._run_storage, self._event_storage, self._schedule_storage],
            pool_size=settings.get("pool_size", DEFAULT_POOL_SIZE),
            recycle_s=settings.get("recycle_s", DEFAULT_RECYCLE_S),
        )

    @classmethod
    def config_schema(cls) -> dict[str, Field]:
        return {
            "postgres_pool": Field(
                {
                    "pool_size": Field(IntSource, is_required=False),
                    "recycle_s": Field(IntSource, is_required=False),
                },
                is_required=False,
            )
        }

    @classmethod
    def config_defaults(cls, base_dir: str) -> dict[str, Any]:
        from dagster._core.instance.ref import InstanceRef

        return InstanceRef.config_defaults(base_dir)


def pool_postgres_connections(storages: list[Any], pool_size: int, recycle_s: int) -> list[str]:
    """Give each dagster-postgres storage among `storages` a pooled engine; names the pooled."""
    if pool_size < 0:
        raise ValueError(f"postgres_pool.pool_size must be 0 or more, not {pool_size}")
    pooled = []
    for storage in storages:
        if storage is None or not type(storage).__module__.startswith("dagster_postgres."):
            continue
        storage._engine = _pooled_engine(storage, pool_size, recycle_s)
        _POOLED.add(storage)
        pooled.append(type(storage).__name__)
    return pooled


def _pooled_engine(storage: Any, pool_size: int, recycle_s: int) -> Any:
    from dagster_postgres.utils import create_pg_engine

    kwargs: dict[str, Any] = {
        "isolation_level": "AUTOCOMMIT",  # as dagster-postgres's own engines
        "pool_size": pool_size,
        "max_overflow": -1,  # a burst opens more, as NullPool did; they close when returned
        "pool_recycle": recycle_s,
        "pool_pre_ping": True,
    }
    options = storage._engine.url.query.get("options")
    if options:
        kwargs["connect_args"] = {"options": options}
    return create_pg_engine(storage.postgres_url, storage._token_provider, **kwargs)


def _drop_inherited_connections() -> None:
    # A connection is one socket: parent and child must not both speak on it.
    for storage in list(_POOLED):
        storage._engine.dispose(close=False)


os.register_at_fork(after_in_child=_drop_inherited_connections)
