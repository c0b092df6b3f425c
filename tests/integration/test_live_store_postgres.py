"""The LLM live store on a real PostgreSQL server (started by the tests): claims, leases on the
server's clock, publish and release, and two processes racing for the same keys."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from mkailin_assets.llm.live_store_postgres import LiveStoreError, PostgresLiveStore


@pytest.fixture
def dsn(postgres_server, fresh_database) -> str:
    return postgres_server.dsn(fresh_database)


@pytest.fixture
def store(dsn):
    opened = PostgresLiveStore(dsn)
    yield opened
    opened.close()


def test_a_claim_is_held_by_one_holder_until_it_is_published(store):
    assert store.lookup(["k1"]) == {}
    assert store.claim("k1", "run-a", 30)
    assert store.claim("k1", "run-a", 30), "the holder takes its own claim again"
    assert not store.claim("k1", "run-b", 30), "another holder's live lease wins"
    assert store.holder_of("k1") == "run-a"

    record = '{"call_id": "k1", "text": "an answer", "cost": 0.001}'
    store.publish("k1", record, "run-a")
    assert store.lookup(["k1", "k2"]) == {"k1": record}, "published text comes back verbatim"
    assert store.holder_of("k1") is None, "publishing drops the claim"
    assert not store.claim("k1", "run-b", 30), "a published key is not claimed again"
    assert not store.claim("k1", "run-a", 30)


def test_an_expired_lease_can_be_taken_over_and_renew_keeps_it(store):
    assert store.claim("k1", "run-a", 0.5)
    assert store.claim("k2", "run-a", 0.5)
    store.renew("run-a", 30)  # k1 and k2 now live for 30 s
    time.sleep(0.8)
    assert not store.claim("k1", "run-b", 30), "renewed: still run-a's"
    assert store.holder_of("k2") == "run-a"

    assert store.claim("k3", "run-a", 0.3)
    time.sleep(0.6)
    assert store.holder_of("k3") is None, "an expired lease has no holder"
    assert store.claim("k3", "run-b", 30), "a dead run's expired claim is taken over"
    assert store.holder_of("k3") == "run-b"


def test_release_drops_only_the_holders_claims(store):
    assert store.claim("k1", "run-a", 30)
    assert store.claim("k2", "run-b", 30)
    store.release(["k1", "k2"], "run-a")
    assert store.holder_of("k1") is None
    assert store.holder_of("k2") == "run-b", "another holder's claim stays"
    assert store.claim("k1", "run-c", 30)
    store.release([], "run-a")  # nothing to do


def test_publish_replaces_a_record_and_ends_anyones_claim(store):
    assert store.claim("k1", "run-b", 30)
    store.publish("k1", '{"v": 1}', "run-a")
    assert store.holder_of("k1") is None
    store.publish("k1", '{"v": 2}', "run-a")
    assert store.lookup(["k1"]) == {"k1": '{"v": 2}'}


def test_tables_are_created_once_by_stores_opened_together(dsn):
    errors: list[BaseException] = []
    stores: list[PostgresLiveStore] = []

    def open_store() -> None:
        try:
            stores.append(PostgresLiveStore(dsn))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert stores[0].claim("k", "h", 5)
    for opened in stores:
        opened.close()


def test_threads_of_one_process_share_a_store(store):
    won: list[str] = []

    def worker(name: str) -> None:
        for i in range(50):
            if store.claim(f"t{i}", name, 30):
                won.append(f"t{i}")

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == sorted(f"t{i}" for i in range(50))


def _race(dsn: str, holder: str, keys: list[str], start, out) -> None:
    store = PostgresLiveStore(dsn)
    start.wait()
    won = [key for key in keys if store.claim(key, holder, 60)]
    store.close()
    out.put((holder, won))


def test_two_processes_racing_for_1000_keys_win_each_exactly_once(dsn):
    keys = [f"call-{i:04d}" for i in range(1000)]
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    out = context.Queue()
    # Opposite orders too, so the two meet in the middle as well as on every key.
    processes = [
        context.Process(target=_race, args=(dsn, "run-a", keys, start, out)),
        context.Process(target=_race, args=(dsn, "run-b", keys, start, out)),
        context.Process(target=_race, args=(dsn, "run-c", keys[::-1], start, out)),
    ]
    for process in processes:
        process.start()
    start.set()
    results = dict(out.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    winners = [key for won in results.values() for key in won]
    assert len(winners) == len(keys), {h: len(w) for h, w in results.items()}
    assert set(winners) == set(keys)

    store = PostgresLiveStore(dsn)
    holders = {key: store.holder_of(key) for key in keys[::97]}
    store.close()
    for key, holder in holders.items():
        assert key in results[holder]


def test_an_unreachable_server_is_named_without_its_password(postgres_server):
    dsn = f"postgresql://{postgres_server.user}:{postgres_server.password}@127.0.0.1:1/x"
    with pytest.raises(LiveStoreError) as raised:
        PostgresLiveStore(dsn)
    message = str(raised.value)
    assert "127.0.0.1:1" in message and "DAGSTER_PG_" in message
    assert postgres_server.password not in message


def test_the_instance_live_store_follows_the_instance_storage(
    postgres_server, fresh_database, tmp_path, monkeypatch
):
    import shutil

    from mkailin_assets.llm.live_store_postgres import instance_live_store
    from mkailin_assets.settings import REPO_ROOT

    sqlite_home = tmp_path / "sqlite"
    sqlite_home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", sqlite_home / "dagster.yaml")
    assert instance_live_store(str(sqlite_home)) is None

    pg_home = tmp_path / "pg"
    pg_home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster-postgres.yaml", pg_home / "dagster.yaml")
    for name, value in postgres_server.env(fresh_database).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(pg_home))
    store = instance_live_store()
    assert store is not None
    assert store.claim("k", "run-a", 30) and store.holder_of("k") == "run-a"
    store.close()
