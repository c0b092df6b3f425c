"""The PubMed release sensor and schedule on a real Dagster instance: new files become
pubmed_files partitions and runs, in NLM's order, exactly once; a restart resumes from the cursor."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from mkailin_assets.assets.mesh import mesh_vocabulary
from mkailin_assets.assets.pubmed import pubmed_files
from mkailin_assets.automation.jobs import mesh_vocabulary_job, pubmed_file_job
from mkailin_assets.automation.schedules import build_release_schedule
from mkailin_assets.automation.sensors import (
    RELEASE_SEQUENCE_TAG,
    build_pubmed_release_sensor,
    check_releases,
)
from mkailin_assets.definitions import build_resources
from mkailin_assets.partitions import pubmed_file_partitions
from tests.harness import apply_env, materialize, sample_env


@dataclass(frozen=True)
class Release:
    """A release file as list_release_files describes it (name and kind are what the sensor reads)."""

    name: str
    kind: str = "updatefiles"


def baseline(year: int, count: int) -> list[Release]:
    return [Release(f"pubmed{year}n{n:04d}.xml.gz", "baseline") for n in range(1, count + 1)]


def updates(year: int, first: int, count: int) -> list[Release]:
    return [Release(f"pubmed{year}n{n:04d}.xml.gz") for n in range(first, first + count)]


class Source:
    """A PubMed source whose listing grows between sensor ticks, as NLM's does."""

    def __init__(self, files: list[Release]):
        self.files = list(files)

    def __call__(self, source: str) -> list[Release]:
        return list(self.files)


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    """One tick as the daemon runs it: evaluate against the project's pubmed_files asset and job
    (which resolves and validates the requested partitions), then apply the partition requests."""
    defs = dg.Definitions(
        assets=[mesh_vocabulary, pubmed_files],
        jobs=[pubmed_file_job, mesh_vocabulary_job],
        sensors=[sensor],
        resources=build_resources(),
    )
    context = dg.build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs
    )
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        data = sensor.evaluate_tick(context)
    for request in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return list(data.run_requests or []), data.cursor if data.cursor is not None else cursor


@pytest.fixture
def instance(instance: dg.DagsterInstance) -> dg.DagsterInstance:
    """The shared test instance with the MeSH vocabulary recorded as loaded (release files wait
    for it; tests of that wait use a bare instance)."""
    instance.report_runless_asset_event(dg.AssetMaterialization("mesh_vocabulary"))
    return instance


def registered(instance: dg.DagsterInstance) -> list[str]:
    return list(instance.get_dynamic_partitions(pubmed_file_partitions.name))


def test_new_files_are_registered_and_requested_once_in_order(instance):
    source = Source(baseline(25, 3))
    sensor = build_pubmed_release_sensor(list_files=source)

    requests, cursor = tick(sensor, instance, None)
    names = [f.name for f in source.files]
    assert [r.partition_key for r in requests] == names
    assert [r.run_key for r in requests] == names
    sequences = [int(r.tags[RELEASE_SEQUENCE_TAG]) for r in requests]
    assert sequences == sorted(sequences) == [1, 2, 3]
    # Dequeued ahead of category refreshes (default priority 0) waiting in the run queue.
    assert all(int(r.tags["dagster/priority"]) > 0 for r in requests)
    assert registered(instance) == names
    assert cursor == names[-1]

    # Two update files appear: exactly those, in order.
    source.files += updates(25, 4, 2)
    requests, cursor = tick(sensor, instance, cursor)
    assert [r.partition_key for r in requests] == ["pubmed25n0004.xml.gz", "pubmed25n0005.xml.gz"]
    assert cursor == "pubmed25n0005.xml.gz"
    assert len(registered(instance)) == 5


def test_restart_with_saved_cursor_requests_nothing_new(instance):
    source = Source(baseline(25, 2) + updates(25, 3, 2))
    sensor = build_pubmed_release_sensor(list_files=source)
    _, cursor = tick(sensor, instance, None)

    # A restarted daemon builds a new context from the stored cursor.
    restarted = build_pubmed_release_sensor(list_files=source)
    requests, same_cursor = tick(restarted, instance, cursor)
    assert requests == []
    assert same_cursor == cursor
    assert len(registered(instance)) == 4


def test_cursor_alone_resumes_after_the_last_registered_file(instance):
    # A fresh instance (no partitions yet) with the cursor of an earlier one: only later files.
    source = Source(baseline(25, 3) + updates(25, 4, 2))
    requests, cursor = tick(
        build_pubmed_release_sensor(list_files=source), instance, "pubmed25n0003.xml.gz"
    )
    assert [r.partition_key for r in requests] == ["pubmed25n0004.xml.gz", "pubmed25n0005.xml.gz"]
    assert cursor == "pubmed25n0005.xml.gz"


def test_new_yearly_baseline_is_registered_in_order_when_last_years_files_are_gone(instance):
    source = Source(baseline(25, 2) + updates(25, 3, 1))
    sensor = build_pubmed_release_sensor(list_files=source)
    _, cursor = tick(sensor, instance, None)

    # NLM replaces the listing: last year's files disappear, the new baseline set appears.
    source.files = baseline(26, 3)
    requests, cursor = tick(sensor, instance, cursor)
    assert [r.partition_key for r in requests] == [f"pubmed26n000{n}.xml.gz" for n in (1, 2, 3)]
    assert {r.tags["mkailin/release_kind"] for r in requests} == {"baseline"}
    assert cursor == "pubmed26n0003.xml.gz"


def test_a_large_first_listing_is_registered_over_several_ticks():
    listing = baseline(25, 7)
    first = check_releases(listing, registered=[], cursor=None, limit=3)
    assert [f.name for f in first.new_files] == [f.name for f in listing[:3]]
    second = check_releases(
        listing, registered=[f.name for f in listing[:3]], cursor=first.cursor, limit=3
    )
    assert [f.name for f in second.new_files] == [f.name for f in listing[3:6]]


def test_daily_schedule_registers_and_requests_the_same_files(instance):
    source = Source(baseline(25, 2))
    schedule = build_release_schedule(list_files=source)

    requests = schedule(dg.build_schedule_context(instance=instance))
    assert [r.run_key for r in requests] == [f.name for f in source.files]
    assert registered(instance) == [f.name for f in source.files]
    for release in source.files:  # the daemon launches what the schedule requested
        record_run(instance, release.name, dg.DagsterRunStatus.STARTED)

    again = schedule(dg.build_schedule_context(instance=instance))
    assert isinstance(again, dg.SkipReason)
    # The sensor, after the schedule registered them, does not request them again.
    requests, _ = tick(build_pubmed_release_sensor(list_files=source), instance, None)
    assert requests == []


def _write_release(directory: Path, name: str) -> None:
    with gzip.open(directory / name, "wt") as out:
        out.write('<?xml version="1.0"?>\n<PubmedArticleSet></PubmedArticleSet>\n')


def test_sensor_over_a_real_directory_listing(instance, tmp_path, monkeypatch):
    sources = pytest.importorskip("mkailin_assets.ingest.sources")
    for name in ["pubmed25n0002.xml.gz", "pubmed25n0001.xml.gz"]:
        _write_release(tmp_path, name)
    monkeypatch.setenv("MKAILIN_PUBMED_SOURCE", str(tmp_path))
    sensor = build_pubmed_release_sensor(list_files=sources.list_release_files)

    requests, cursor = tick(sensor, instance, None)
    assert [r.partition_key for r in requests] == ["pubmed25n0001.xml.gz", "pubmed25n0002.xml.gz"]

    _write_release(tmp_path, "pubmed25n0003.xml.gz")
    requests, _ = tick(sensor, instance, cursor)
    assert [r.partition_key for r in requests] == ["pubmed25n0003.xml.gz"]


@pytest.mark.slow
def test_a_new_baseline_with_unchanged_citations_changes_nothing_in_raw_abstracts(
    instance, tmp_path, monkeypatch
):
    from mkailin_assets.assets.abstracts import raw_abstracts
    from mkailin_assets.assets.mesh import mesh_tree, mesh_vocabulary
    from mkailin_assets.db import open_connection
    from mkailin_assets.ingest.sources import list_release_files
    from mkailin_assets.settings import SAMPLE_PUBMED_SOURCE

    # The two baseline files only: an update would revise citations the copy below republishes.
    source = tmp_path / "pubmed"
    shutil.copytree(SAMPLE_PUBMED_SOURCE / "baseline", source / "baseline")
    env = sample_env(tmp_path, MKAILIN_PUBMED_SOURCE=str(source))
    apply_env(monkeypatch, env)
    db_path = env["MKAILIN_DUCKDB_PATH"]
    assets = [mesh_vocabulary, mesh_tree, pubmed_files, raw_abstracts]
    sensor = build_pubmed_release_sensor(list_files=list_release_files)

    def load_new_files(cursor):
        requests, cursor = tick(sensor, instance, cursor)
        for request in requests:
            assert materialize(
                ["pubmed_files"], request.partition_key, instance, assets=assets
            ).success
        return [r.partition_key for r in requests], cursor

    def category_rows():
        with open_connection(db_path, read_only=True) as con:
            return con.execute(
                "SELECT pmid, content_hash, updated_at FROM raw_abstracts WHERE category = 'C' ORDER BY pmid"
            ).fetchall()

    assert materialize(["mesh_vocabulary"], None, instance, assets=assets).success
    assert materialize(["mesh_tree"], "C", instance, assets=assets).success
    loaded, cursor = load_new_files(None)
    assert loaded == ["pubmed00n0001.xml.gz", "pubmed00n0002.xml.gz"]
    assert materialize(["raw_abstracts"], "C", instance, assets=assets).success
    before = category_rows()
    assert before

    # Next year's baseline republishes the first file's citations unchanged.
    baseline = source / "baseline"
    shutil.copy(baseline / "pubmed00n0001.xml.gz", baseline / "pubmed27n0001.xml.gz")
    digest = hashlib.md5((baseline / "pubmed27n0001.xml.gz").read_bytes()).hexdigest()
    (baseline / "pubmed27n0001.xml.gz.md5").write_text(f"MD5(pubmed27n0001.xml.gz)= {digest}\n")
    loaded, _ = load_new_files(cursor)
    assert loaded == ["pubmed27n0001.xml.gz"]

    result = materialize(["raw_abstracts"], "C", instance, assets=assets)
    metadata = result.asset_materializations_for_node("raw_abstracts")[0].metadata
    assert metadata["rows_inserted"].value == 0
    assert metadata["rows_deleted"].value == 0
    assert category_rows() == before  # same rows, same hashes, timestamps untouched


# ---- the vocabulary first, retries of failed files ---------------------------------------------


def record_run(instance: dg.DagsterInstance, name: str, status: dg.DagsterRunStatus) -> str:
    """A pubmed_file_job run of one file, as the daemon would have left it."""
    run = instance.create_run_for_job(
        job_def=dg.Definitions(
            assets=[pubmed_files], jobs=[pubmed_file_job], resources=build_resources()
        ).resolve_job_def("pubmed_file_job"),
        tags={"dagster/partition": name},
        status=status,
    )
    return run.run_id


def loaded(instance: dg.DagsterInstance, name: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization("pubmed_files", partition=name))


def test_release_files_wait_for_the_vocabulary_and_the_sensor_asks_for_it(tmp_path, monkeypatch):
    source = Source(baseline(25, 2))
    sensor = build_pubmed_release_sensor(list_files=source)
    missing = tmp_path / "desc.xml"
    monkeypatch.setenv("MKAILIN_MESH_SOURCE", str(missing))
    with dg.instance_for_test() as bare:
        context = dg.build_sensor_context(instance=bare, cursor=None)
        skipped = sensor.evaluate_tick(context)
        assert not skipped.run_requests
        assert "wait for the MeSH vocabulary" in skipped.skip_message
        assert str(missing) in skipped.skip_message
        assert registered(bare) == []  # nothing registered: the files stay new

        missing.write_text("<DescriptorRecordSet/>")
        asked = sensor.evaluate_tick(dg.build_sensor_context(instance=bare, cursor=None))
        assert [r.job_name for r in asked.run_requests] == ["mesh_vocabulary_job"]
        assert not asked.dynamic_partitions_requests

        bare.report_runless_asset_event(dg.AssetMaterialization("mesh_vocabulary"))
        requests, _ = tick(sensor, bare, None)
        assert [r.partition_key for r in requests] == [f.name for f in source.files]


def test_a_failed_or_cancelled_file_is_retried_in_order_then_fails_loudly(instance, monkeypatch):
    monkeypatch.setenv("MKAILIN_RELEASE_MAX_ATTEMPTS", "2")
    source = Source(baseline(25, 3))
    sensor = build_pubmed_release_sensor(list_files=source)
    names = [f.name for f in source.files]
    _, cursor = tick(sensor, instance, None)

    # File 1 loaded; file 2 failed, so file 3 failed too (NLM's order).
    loaded(instance, names[0])
    record_run(instance, names[1], dg.DagsterRunStatus.FAILURE)
    record_run(instance, names[2], dg.DagsterRunStatus.CANCELED)
    requests, cursor = tick(sensor, instance, cursor)
    assert [r.partition_key for r in requests] == names[1:]
    assert [r.run_key for r in requests] == [f"{n}:attempt2" for n in names[1:]]
    assert [r.tags["mkailin/attempt"] for r in requests] == ["2", "2"]

    # While a retry runs nothing is requested twice.
    record_run(instance, names[1], dg.DagsterRunStatus.STARTED)
    requests, _ = tick(sensor, instance, cursor)
    assert [r.partition_key for r in requests] == [names[2]]

    # The second failure of file 2 is the last: the tick fails and names the file.
    with dg.instance_for_test() as fresh:
        fresh.report_runless_asset_event(dg.AssetMaterialization("mesh_vocabulary"))
        fresh.add_dynamic_partitions("pubmed_files", names)
        for _ in range(2):
            record_run(fresh, names[0], dg.DagsterRunStatus.FAILURE)
        with pytest.raises(Exception, match=r"pubmed25n0001.xml.gz \(2 failed runs"):
            tick(sensor, fresh, cursor)
        # Once loaded (a person fixed it and re-launched), the files after it follow.
        loaded(fresh, names[0])
        requests, _ = tick(sensor, fresh, cursor)
        assert requests == []


def test_the_check_interval_is_a_setting(monkeypatch):
    monkeypatch.setenv("MKAILIN_RELEASE_CHECK_INTERVAL", "7")
    assert build_pubmed_release_sensor().minimum_interval_seconds == 7
    monkeypatch.delenv("MKAILIN_RELEASE_CHECK_INTERVAL")
    assert build_pubmed_release_sensor().minimum_interval_seconds == 3600
    monkeypatch.setenv("MKAILIN_RELEASE_CHECK_INTERVAL", "soon")
    with pytest.raises(ValueError, match="MKAILIN_RELEASE_CHECK_INTERVAL"):
        build_pubmed_release_sensor()
