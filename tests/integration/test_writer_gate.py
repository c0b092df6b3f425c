"""The writer gate claims the `duckdb` pool's slot per phase only where the instance limits the
pool, as Dagster's own step claims do; elsewhere DuckDB's file lock orders the phases."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import dagster as dg

from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.writer import WRITER_POOL, WriterGate


def _context(instance: dg.DagsterInstance, run_id: str = "run-1") -> SimpleNamespace:
    step = SimpleNamespace(step=SimpleNamespace(key="candidate_qa"))
    return SimpleNamespace(
        instance=instance,
        run_id=run_id,
        log=SimpleNamespace(info=lambda message: None),
        get_step_execution_context=lambda: step,
    )


def test_an_instance_without_the_pool_is_not_waited_on(tmp_path):
    with dg.instance_for_test() as instance:  # SQLite storage, no pool limits configured
        gate = WriterGate(DuckDBStore(path=str(tmp_path / "db.duckdb")), _context(instance))
        with gate.hold("read") as con:
            assert con.execute("SELECT 1").fetchall() == [(1,)]
        assert instance.event_log_storage.get_concurrency_info(WRITER_POOL).claimed_slots == []


def test_a_limited_pool_is_claimed_per_phase_and_freed(tmp_path):
    overrides = {"concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        gate = WriterGate(DuckDBStore(path=str(tmp_path / "db.duckdb")), _context(instance))
        with gate.hold("write"):
            info = instance.event_log_storage.get_concurrency_info(WRITER_POOL)
            assert [(s.run_id, s.step_key) for s in info.claimed_slots] == [
                ("run-1", "candidate_qa:write")
            ]
        assert instance.event_log_storage.get_concurrency_info(WRITER_POOL).claimed_slots == []
        assert [p["phase"] for p in gate.phases] == ["write"]


def test_a_slot_freed_while_a_claim_was_queued_is_handed_on(tmp_path):
    """Dagster queues a claim unassigned when it finds no free slot; if the holder frees the slot
    before the claim is queued, nothing assigns it: the gate does, instead of waiting for ever."""
    overrides = {"concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        gate = WriterGate(DuckDBStore(path=str(tmp_path / "db.duckdb")), _context(instance))
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(WRITER_POOL)
        # The race's outcome: the slot is free, the claim queued without a slot assigned.
        storage.add_pending_step(
            concurrency_key=WRITER_POOL,
            run_id="run-1",
            step_key="candidate_qa:write",
            should_assign=False,
        )
        with gate.hold("write"):
            info = storage.get_concurrency_info(WRITER_POOL)
            assert [(s.run_id, s.step_key) for s in info.claimed_slots] == [
                ("run-1", "candidate_qa:write")
            ]
        assert storage.get_concurrency_info(WRITER_POOL).claimed_slots == []


def test_a_waiting_gate_claims_when_the_holder_rings_not_at_its_next_poll(tmp_path, monkeypatch):
    """The holder's free rings the bell beside the DuckDB file; the waiting gate asks at once
    instead of at its next poll (set to 30 s here, so only the bell can wake it in time)."""
    import mkailin_assets.resources.writer as writer

    monkeypatch.setattr(writer, "_POLL_S", 30.0)
    overrides = {"concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}}
    store = DuckDBStore(path=str(tmp_path / "db.duckdb"))
    with dg.instance_for_test(overrides=overrides) as instance:
        holder = WriterGate(store, _context(instance, "run-holder"))
        waiter = WriterGate(store, _context(instance, "run-waiter"))
        claimed_at: list[float] = []

        def wait_for_the_writer() -> None:
            with waiter.hold("write"):
                claimed_at.append(time.monotonic())

        with holder.hold("write"):
            thread = threading.Thread(target=wait_for_the_writer)
            thread.start()
            time.sleep(0.5)  # the waiter's claim is queued behind the holder's
            assert claimed_at == []
        freed_at = time.monotonic()
        thread.join(timeout=20)
        assert claimed_at and claimed_at[0] - freed_at < 5.0  # not the 30 s poll
        assert Path(writer.writer_bell_path(store.path)).exists()


def test_the_bell_rings_even_within_one_clock_tick_and_starts_again_when_large(tmp_path):
    from mkailin_assets.resources import writer

    bell = str(tmp_path / "db.duckdb.writer-bell")
    assert writer.bell_rung_at(bell) == (0, 0)  # no bell yet
    seen = []
    for _ in range(50):  # faster than a clock tick: the size still moves every time
        writer.ring_bell(bell)
        seen.append(writer.bell_rung_at(bell))
    assert len(set(seen)) == 50
    Path(bell).write_text("." * writer._BELL_MAX_BYTES)
    before = writer.bell_rung_at(bell)
    writer.ring_bell(bell)
    assert writer.bell_rung_at(bell) != before and Path(bell).stat().st_size == 1
    assert not writer.wait_for_bell(bell, writer.bell_rung_at(bell), 0.05)  # silent: times out


def test_before_claim_and_after_release_run_around_each_phase(tmp_path):
    released: list[int] = []
    asked: list[int] = []
    with dg.instance_for_test() as instance:
        gate = WriterGate(
            DuckDBStore(path=str(tmp_path / "db.duckdb")),
            _context(instance),
            after_release=lambda: released.append(len(gate.phases)),
            before_claim=lambda: asked.append(len(gate.phases)),
        )
        with gate.hold("read"):
            assert released == [] and asked == [0]
        with gate.hold("write"):
            assert released == [1] and asked == [0, 1]
    assert released == [1, 2]  # after each phase was recorded, the file closed


def test_the_bell_names_the_next_holder_and_wakes_only_it(tmp_path, monkeypatch):
    """Two gates wait behind a holder: each free names the step Dagster assigned the slot to, that
    gate claims at once, and the other does not ask the instance again on that ring."""
    import mkailin_assets.resources.writer as writer

    monkeypatch.setattr(writer, "_POLL_S", 30.0)
    overrides = {"concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}}
    store = DuckDBStore(path=str(tmp_path / "db.duckdb"))
    with dg.instance_for_test(overrides=overrides) as instance:
        storage = instance.event_log_storage
        asked: list[str] = []
        claim = storage.claim_concurrency_slot

        def counting_claim(pool, run_id, step_key, *args, **kwargs):
            asked.append(run_id)
            return claim(pool, run_id, step_key, *args, **kwargs)

        monkeypatch.setattr(storage, "claim_concurrency_slot", counting_claim)
        holder = WriterGate(store, _context(instance, "run-holder"))
        order: list[str] = []

        def wait_then_hold(run_id: str, hold_s: float) -> None:
            with WriterGate(store, _context(instance, run_id)).hold("write"):
                order.append(run_id)
                time.sleep(hold_s)

        with holder.hold("write"):
            first = threading.Thread(target=wait_then_hold, args=("run-first", 1.0))
            first.start()
            time.sleep(0.5)  # queued first
            second = threading.Thread(target=wait_then_hold, args=("run-second", 0.0))
            second.start()
            time.sleep(0.5)
            second_asked_before = asked.count("run-second")
        freed_at = time.monotonic()
        first.join(timeout=20)
        second.join(timeout=20)
        assert order == ["run-first", "run-second"]
        assert time.monotonic() - freed_at < 10.0  # both by the bell, not the 30 s poll
        # The second asked once more in all: when the first's free named it, not at the
        # holder's free (which named the first).
        assert asked.count("run-second") == second_asked_before + 1
        assert writer.bell_names(writer.writer_bell_path(store.path)) == ""  # no one left


def test_a_ring_for_another_waiter_does_not_wake_this_one(tmp_path):
    from mkailin_assets.resources import writer

    bell = str(tmp_path / "db.duckdb.writer-bell")
    writer.ring_bell(bell, "run-a step:write")
    assert writer.bell_names(bell) == "run-a step:write"
    rung = writer.bell_rung_at(bell)
    writer.ring_bell(bell, "run-b step:read")
    assert not writer.wait_for_bell(bell, rung, 0.1, waiter="run-a step:write")
    assert writer.wait_for_bell(bell, rung, 0.1, waiter="run-b step:read")
    rung = writer.bell_rung_at(bell)
    writer.ring_bell(bell)  # names no one: everyone asks
    assert writer.wait_for_bell(bell, rung, 0.1, waiter="run-c step:write")
