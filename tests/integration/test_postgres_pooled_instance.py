"""The PostgreSQL instance keeps its connections (mkailin_assets/automation/instance.py):
deploy/dagster-postgres.yaml loads PooledPostgresInstance, whose storages reuse a few connections
where dagster-postgres alone opens one per query; a server that dropped them is reconnected, and
a forked child never speaks on its parent's connections."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from sqlalchemy import event
from sqlalchemy.pool import NullPool, QueuePool

from mkailin_assets.automation.instance import PooledPostgresInstance, pool_postgres_connections
from mkailin_assets.settings import REPO_ROOT

DEPLOY_YAML = REPO_ROOT / "deploy" / "dagster-postgres.yaml"
EVENTS = 60


@pytest.fixture
def pg_env(postgres_env) -> dict[str, str]:
    return postgres_env


def home_with(path: Path, yaml_text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(yaml_text)
    return path


def deploy_home(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY_YAML, path / "dagster.yaml")
    return path


def without_instance_class(yaml_text: str) -> str:
    """The deploy yaml as dagster-postgres alone would run it (no instance class, no pool)."""
    kept, skipping = [], False
    for line in yaml_text.splitlines():
        if line.startswith(("instance_class:", "postgres_pool:")):
            skipping = True
            continue
        if skipping and line.startswith(" "):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept) + "\n"


def connections_opened_by(instance: dg.DagsterInstance, work) -> int:
    opened = []
    engines = [
        instance.run_storage._engine,
        instance.event_log_storage._engine,
        instance.schedule_storage._engine,
    ]
    listeners = [lambda *_: opened.append(1) for _ in engines]
    for engine, listener in zip(engines, listeners, strict=True):
        event.listen(engine, "connect", listener)
    try:
        work(instance)
    finally:
        for engine, listener in zip(engines, listeners, strict=True):
            event.remove(engine, "connect", listener)
    return len(opened)


def write_events(instance: dg.DagsterInstance) -> None:
    for index in range(EVENTS):
        instance.report_runless_asset_event(
            dg.AssetMaterialization("pooled_probe", metadata={"index": index})
        )
    instance.get_runs(limit=5)
    instance.event_log_storage.get_pool_limits()


def test_the_deploy_instance_pools_every_postgres_storage(pg_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(deploy_home(tmp_path / "home")))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance, PooledPostgresInstance)
        assert sorted(instance.pooled_storages) == [
            "PostgresEventLogStorage",
            "PostgresRunStorage",
            "PostgresScheduleStorage",
        ]
        for storage in (instance.run_storage, instance.event_log_storage):
            pool = storage._engine.pool
            assert isinstance(pool, QueuePool) and pool.size() == 2 and pool._pre_ping
        # A run worker rebuilds the instance from its ref: the class and the pool travel with it.
        with dg.DagsterInstance.from_ref(instance.get_ref()) as worker_instance:
            assert isinstance(worker_instance, PooledPostgresInstance)
            assert isinstance(worker_instance.event_log_storage._engine.pool, QueuePool)


def test_events_reuse_connections_where_dagster_postgres_alone_opens_one_per_query(
    pg_env, tmp_path, monkeypatch
):
    pooled_home = deploy_home(tmp_path / "pooled")
    plain_home = home_with(tmp_path / "plain", without_instance_class(DEPLOY_YAML.read_text()))
    monkeypatch.setenv("DAGSTER_HOME", str(plain_home))
    with dg.DagsterInstance.get() as plain:
        assert not isinstance(plain, PooledPostgresInstance)
        assert isinstance(plain.event_log_storage._engine.pool, NullPool)
        unpooled = connections_opened_by(plain, write_events)
    monkeypatch.setenv("DAGSTER_HOME", str(pooled_home))
    with dg.DagsterInstance.get() as pooled:
        reused = connections_opened_by(pooled, write_events)
        count = len(pooled.fetch_materializations(dg.AssetKey("pooled_probe"), limit=1000).records)
    assert unpooled >= EVENTS  # one connection (a server backend) per event and more
    assert reused <= 6, reused  # at most pool_size per storage
    assert count == 2 * EVENTS  # nothing lost either way


def test_connections_the_server_dropped_are_replaced_before_use(
    pg_env, postgres_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(deploy_home(tmp_path / "home")))
    with dg.DagsterInstance.get() as instance:
        write_events(instance)  # the pools now hold idle connections
        admin = psycopg2.connect(postgres_server.dsn(pg_env["DAGSTER_PG_DB"]))
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1
        admin.close()
        # As after a server restart: the next queries reconnect instead of failing.
        write_events(instance)
        assert len(
            instance.fetch_materializations(dg.AssetKey("pooled_probe"), limit=1000).records
        ) == (2 * EVENTS)


def _idle_connections_in_child(instance: dg.DagsterInstance, out) -> None:
    storage = instance.event_log_storage
    idle_at_fork = storage._engine.pool.checkedin()
    storage.get_pool_limits()  # works on a connection of its own
    out.put(idle_at_fork)


def test_a_forked_child_drops_the_parents_connections(pg_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(deploy_home(tmp_path / "home")))
    with dg.DagsterInstance.get() as instance:
        write_events(instance)
        assert instance.event_log_storage._engine.pool.checkedin() >= 1
        context = multiprocessing.get_context("fork")
        out = context.Queue()
        child = context.Process(target=_idle_connections_in_child, args=(instance, out))
        child.start()
        idle_in_child = out.get(timeout=60)
        child.join(timeout=60)
        assert child.exitcode == 0 and idle_in_child == 0
        write_events(instance)  # the parent's own connections still work


def test_a_negative_pool_size_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="postgres_pool.pool_size"):
        pool_postgres_connections([], pool_size=-1, recycle_s=60)
