"""Automation on a real Dagster instance: a loaded file refreshes only the category partitions it
changed (once no file has loaded for the quiet period), and the QA stages follow their parents but
never past a failed blocking check."""

import time

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

from mkailin_assets.automation.conditions import (
    AUTOMATION_SENSOR_NAME,
    automation_condition_sensor,
    automation_mode,
    downstream_condition,
)
from mkailin_assets.automation.retries import RETRY_OF_TAG
from mkailin_assets.automation.sensors import (
    CATEGORY_PIPELINE_JOB,
    RAW_ABSTRACTS_JOB,
    QuietPeriod,
    affected_since,
    build_affected_categories_sensor,
    parse_categories,
)
from mkailin_assets.partitions import category_partitions
from tests.harness import materialize as run


def load_file(
    instance: dg.DagsterInstance, name: str, affected: str, at: float | None = None
) -> None:
    """A pubmed_files materialization as the asset records it (its metadata is the contract),
    recorded now or, with `at`, stamped at that time (as report_runless_asset_event records it)."""
    instance.add_dynamic_partitions("pubmed_files", [name])
    materialization = dg.AssetMaterialization(
        asset_key="pubmed_files", partition=name, metadata={"affected_categories": affected}
    )
    if at is None:
        instance.report_runless_asset_event(materialization)
        return
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        event_specific_data=StepMaterializationData(materialization),
        job_name=RUNLESS_JOB_NAME,
    )
    instance.report_dagster_event(event, run_id=RUNLESS_RUN_ID, timestamp=at)


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


@pytest.fixture
def at_once(monkeypatch):
    """No quiet period: a loaded file's refreshes are requested at the next tick (as before
    MKAILIN_REFRESH_QUIET_S)."""
    monkeypatch.setenv("MKAILIN_REFRESH_QUIET_S", "0")


def test_only_the_affected_categories_are_requested(instance, at_once):
    sensor = build_affected_categories_sensor("sensor")
    assert isinstance(evaluate(sensor, instance, None), dg.SkipReason)

    load_file(instance, "pubmed25n0001.xml.gz", "C,D")
    result = evaluate(sensor, instance, None)
    assert [r.partition_key for r in result.run_requests] == ["C", "D"]
    storage_id = int(result.cursor)
    assert [r.run_key for r in result.run_requests] == [f"C:{storage_id}", f"D:{storage_id}"]

    # Restarted with the saved cursor: nothing new.
    assert isinstance(evaluate(sensor, instance, result.cursor), dg.SkipReason)

    # Two more files: the union of what they changed, once each, in category order.
    load_file(instance, "pubmed25n0002.xml.gz", "Z,D")
    load_file(instance, "pubmed25n0003.xml.gz", "A")
    later = evaluate(sensor, instance, result.cursor)
    assert [r.partition_key for r in later.run_requests] == ["A", "D", "Z"]
    assert int(later.cursor) > storage_id


def add_run(instance: dg.DagsterInstance, category: str, status, **tags: str) -> None:
    instance.add_run(
        dg.DagsterRun(
            job_name=CATEGORY_PIPELINE_JOB,
            status=status,
            tags={"dagster/partition": category, **tags},
        )
    )


def test_a_category_whose_refresh_waits_to_start_is_not_requested_again(instance, at_once):
    """A queued refresh reads the corpus when it starts, so it covers a file loaded meanwhile;
    a started one, or a queued retry (which may skip raw_abstracts), does not."""
    sensor = build_affected_categories_sensor("sensor")
    # NOT_STARTED, as a queued run is once dequeued (a QUEUED run needs a code location here).
    add_run(instance, "C", dg.DagsterRunStatus.NOT_STARTED)
    add_run(instance, "D", dg.DagsterRunStatus.STARTED)
    add_run(instance, "E", dg.DagsterRunStatus.NOT_STARTED, **{RETRY_OF_TAG: "an-earlier-run"})
    load_file(instance, "pubmed25n0001.xml.gz", "C,D,E")
    result = evaluate(sensor, instance, None)
    assert [r.partition_key for r in result.run_requests] == ["D", "E"]

    load_file(instance, "pubmed25n0002.xml.gz", "C")
    later = evaluate(sensor, instance, result.cursor)
    assert list(later.run_requests or []) == [] and "already has a run waiting" in str(
        later.skip_reason
    )
    assert int(later.cursor) > int(result.cursor)  # the file is handled, not retried


def test_a_file_that_changes_no_category_moves_the_cursor_without_runs(instance, at_once):
    sensor = build_affected_categories_sensor("sensor")
    load_file(instance, "pubmed25n0001.xml.gz", "")
    result = evaluate(sensor, instance, None)
    assert list(result.run_requests or []) == []
    assert result.cursor is not None
    assert isinstance(evaluate(sensor, instance, result.cursor), dg.SkipReason)


# ---- the quiet period: a burst of release files, one refresh per category ------------------
class Clock:
    """The sensor's clock, moved by the test (the files are stamped with it too)."""

    def __init__(self) -> None:
        self.start = self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float) -> float:
        """Move to `seconds` after the start; returns the time."""
        self.now = self.start + seconds
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def quiet_period(monkeypatch, quiet_s: int, max_wait_s: int) -> None:
    monkeypatch.setenv("MKAILIN_REFRESH_QUIET_S", str(quiet_s))
    monkeypatch.setenv("MKAILIN_REFRESH_MAX_WAIT_S", str(max_wait_s))


def test_a_file_loaded_within_the_quiet_period_requests_nothing_and_keeps_the_cursor(
    instance, monkeypatch, clock
):
    quiet_period(monkeypatch, 300, 1800)
    sensor = build_affected_categories_sensor("sensor", clock=clock)
    load_file(instance, "pubmed25n0001.xml.gz", "C,D", at=clock.at(0))
    load_file(instance, "pubmed25n0002.xml.gz", "", at=clock.at(1))
    first = affected_since(instance, None).last_storage_id
    load_file(instance, "pubmed25n0003.xml.gz", "Z", at=clock.at(2))
    clock.at(60)
    # A SkipReason, not a SensorResult: the cursor stays, the files are read again next tick.
    for cursor in (None, str(first - 1)):
        result = evaluate(sensor, instance, cursor)
        assert isinstance(result, dg.SkipReason), result
    reason = evaluate(sensor, instance, None).skip_message
    assert reason.startswith("3 release file(s) loaded and not yet refreshed changed C,D,Z:")
    assert "requested in 242s" in reason and "MKAILIN_REFRESH_QUIET_S" in reason
    assert instance.get_runs_count() == 0

    clock.at(301)  # 299 s after the newest file: still quiet
    assert isinstance(evaluate(sensor, instance, None), dg.SkipReason)
    clock.at(302)
    result = evaluate(sensor, instance, None)
    assert [r.partition_key for r in result.run_requests] == ["C", "D", "Z"]


def test_files_loaded_in_a_burst_cost_one_request_per_changed_category(
    instance, monkeypatch, clock
):
    quiet_period(monkeypatch, 300, 1800)
    sensor = build_affected_categories_sensor("sensor", clock=clock)
    load_file(instance, "pubmed25n0001.xml.gz", "C,D", at=clock.at(0))
    clock.at(10)
    assert "in 290s" in evaluate(sensor, instance, None).skip_message
    load_file(instance, "pubmed25n0002.xml.gz", "D,E", at=clock.at(90))  # restarts the quiet
    clock.at(100)
    reason = evaluate(sensor, instance, None).skip_message
    assert reason.startswith("2 release file(s)") and "C,D,E" in reason
    assert "requested in 290s" in reason

    clock.at(390)
    result = evaluate(sensor, instance, None)
    storage_id = int(result.cursor)
    assert storage_id == affected_since(instance, None).last_storage_id
    assert [r.partition_key for r in result.run_requests] == ["C", "D", "E"]
    assert [r.run_key for r in result.run_requests] == [f"{c}:{storage_id}" for c in "CDE"]
    # Handled: the next ticks request nothing more.
    clock.at(1000)
    assert evaluate(sensor, instance, result.cursor).skip_message == (
        "no new pubmed_files materializations"
    )


def test_the_max_wait_refreshes_under_a_steady_stream_of_files(instance, monkeypatch, clock):
    """A file every 200 s never leaves 300 s of quiet: at 600 s after the first, the refresh is
    requested anyway, and the next files start a new wait."""
    quiet_period(monkeypatch, 300, 600)
    sensor = build_affected_categories_sensor("sensor", clock=clock)
    cursor = None
    requested_at = []
    for index in range(9):  # files at 0, 200, ..., 1600 s
        load_file(instance, f"pubmed25n{index + 1:04d}.xml.gz", "C", at=clock.at(200 * index))
        for tick in range(0, 200, 50):  # a tick every 50 s until the next file
            clock.at(200 * index + tick)
            result = evaluate(sensor, instance, cursor)
            if isinstance(result, dg.SkipReason):
                assert "requested in" in result.skip_message or "no new" in result.skip_message
            else:
                assert [r.partition_key for r in result.run_requests] == ["C"]
                requested_at.append(round(clock() - clock.start))
                cursor = result.cursor
    # Each refresh comes 600 s after the oldest file it covers (the files at 0 and at 800 s);
    # the file at 1600 s waits for the next.
    assert requested_at == [600, 1400]
    assert int(cursor) < affected_since(instance, None).last_storage_id


def test_no_quiet_period_requests_at_once_as_before(instance, monkeypatch, clock):
    quiet_period(monkeypatch, 0, 0)
    sensor = build_affected_categories_sensor("sensor", clock=clock)
    assert sensor.minimum_interval_seconds == 60
    load_file(instance, "pubmed25n0001.xml.gz", "C,D", at=clock.at(0))
    result = evaluate(sensor, instance, None)
    assert [r.partition_key for r in result.run_requests] == ["C", "D"]
    load_file(instance, "pubmed25n0002.xml.gz", "E", at=clock.at(1))
    later = evaluate(sensor, instance, result.cursor)
    assert [r.partition_key for r in later.run_requests] == ["E"]


def test_a_release_load_in_flight_still_holds_the_refresh_back(instance, monkeypatch, clock):
    """The quiet period over, a queued file load still comes first (the refresh would miss it)."""
    quiet_period(monkeypatch, 300, 600)
    sensor = build_affected_categories_sensor("sensor", clock=clock)
    load_file(instance, "pubmed25n0001.xml.gz", "C", at=clock.at(0))
    instance.add_run(
        dg.DagsterRun(job_name="pubmed_file_job", status=dg.DagsterRunStatus.NOT_STARTED)
    )
    clock.at(700)
    assert "still queued or running" in evaluate(sensor, instance, None).skip_message


def test_the_interval_follows_the_quiet_period(monkeypatch):
    quiet_period(monkeypatch, 300, 1800)
    assert build_affected_categories_sensor("sensor").minimum_interval_seconds == 30
    quiet_period(monkeypatch, 20, 60)
    assert build_affected_categories_sensor("sensor").minimum_interval_seconds == 5
    quiet_period(monkeypatch, 3600, 7200)
    assert build_affected_categories_sensor("sensor").minimum_interval_seconds == 60
    monkeypatch.setenv("MKAILIN_AUTOMATION_INTERVAL", "7")  # an explicit interval wins
    assert build_affected_categories_sensor("sensor").minimum_interval_seconds == 7


def test_an_event_stamped_ahead_of_the_sensors_clock_counts_as_just_loaded():
    from mkailin_assets.automation.sensors import AffectedCategories

    quiet = QuietPeriod(300, 1800)
    ahead = AffectedCategories(["C"], 7, 1, first_at=1_000.0, last_at=1_000.0)
    assert quiet.wait_s(ahead, now=900.0) == 300
    assert quiet.wait_s(ahead, now=1_100.0) == 200
    assert QuietPeriod(0, 0).wait_s(ahead, now=900.0) == 0


def test_mode_chooses_the_refresh_job(monkeypatch):
    assert build_affected_categories_sensor("sensor").job_name == CATEGORY_PIPELINE_JOB
    assert build_affected_categories_sensor("eager").job_name == RAW_ABSTRACTS_JOB
    off = build_affected_categories_sensor("off")
    assert off.default_status == dg.DefaultSensorStatus.STOPPED
    assert automation_condition_sensor("off").default_status == dg.DefaultSensorStatus.STOPPED
    assert automation_condition_sensor("sensor").default_status == dg.DefaultSensorStatus.RUNNING
    monkeypatch.setenv("MKAILIN_AUTOMATION", "sometimes")
    with pytest.raises(ValueError, match="MKAILIN_AUTOMATION"):
        automation_mode()


def test_category_metadata_is_parsed_strictly():
    assert parse_categories("C, D,,X,zz") == {"C", "D"}
    assert parse_categories(dg.MetadataValue.text("V")) == {"V"}
    assert parse_categories(None) == set()


# ---- declarative conditions over the category chain --------------------------------------
# Stand-ins with the project's keys and partitions: the conditions are what is under test.
FAILING_CATEGORIES: set[str] = set()


def chain_with(condition: dg.AutomationCondition, failing: set[str]) -> list[dg.AssetsDefinition]:
    """raw_abstracts → candidate_qa (blocking check failing for `failing`) → evaluated_qa."""

    @dg.asset(name="raw_abstracts", partitions_def=category_partitions)
    def raw() -> None:
        return None

    @dg.asset(
        name="candidate_qa",
        partitions_def=category_partitions,
        deps=[raw],
        automation_condition=condition,
        check_specs=[dg.AssetCheckSpec("questions_valid", asset="candidate_qa", blocking=True)],
    )
    def candidates(context: dg.AssetExecutionContext):
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(
            check_name="questions_valid",
            passed=context.partition_key not in failing,
            severity=dg.AssetCheckSeverity.ERROR,
        )

    @dg.asset(
        name="evaluated_qa",
        partitions_def=category_partitions,
        deps=[candidates],
        automation_condition=condition,
    )
    def evaluated() -> None:
        return None

    return [raw, candidates, evaluated]


raw_abstracts, candidate_qa, evaluated_qa = chain_with(downstream_condition(), FAILING_CATEGORIES)


@dg.asset(
    partitions_def=category_partitions,
    deps=[evaluated_qa],
    automation_condition=downstream_condition(),
)
def training_set() -> None:
    return None


CHAIN = [raw_abstracts, candidate_qa, evaluated_qa, training_set]


def requested(result, key: str) -> set[str]:
    return set(result.get_requested_partitions(dg.AssetKey(key)))


def materialize(instance, assets, category: str):
    """The toy chain's assets in one run (they need no resources)."""
    selection = [a.key for a in assets]
    return run(selection, category, instance, raise_on_error=False, resources={}, assets=assets)


@pytest.mark.slow
def test_only_affected_partitions_go_stale_and_failed_checks_block(instance):
    FAILING_CATEGORIES.clear()
    defs = dg.Definitions(assets=CHAIN, sensors=[automation_condition_sensor("sensor")])
    for category in ("C", "D", "E"):
        assert materialize(instance, CHAIN, category).success
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert result.total_requested == 0

    # The refresh sensor reloaded C and D only: exactly their downstream partitions go stale
    # (eager requests the whole chain in one tick; the run orders the steps).
    for category in ("C", "D"):
        materialize(instance, [raw_abstracts], category)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    for stage in ("candidate_qa", "evaluated_qa", "training_set"):
        assert requested(result, stage) == {"C", "D"}, stage

    # Those runs: C's chain passes; D's candidate_qa runs on its own and its blocking check
    # fails. A later tick must not carry D on (plain eager() would request evaluated_qa D here).
    FAILING_CATEGORIES.add("D")
    materialize(instance, CHAIN[1:], "C")
    materialize(instance, [candidate_qa], "D")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert result.total_requested == 0

    # Once D's check passes again, D (only D) resumes.
    FAILING_CATEGORIES.clear()
    materialize(instance, [candidate_qa], "D")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result, "evaluated_qa") == {"D"}
    assert requested(result, "training_set") == {"D"}
    assert requested(result, "candidate_qa") == set()
    assert defs.get_sensor_def(AUTOMATION_SENSOR_NAME) is not None


@pytest.mark.parametrize(
    ("condition", "carried_on"),
    [(downstream_condition(), set()), (dg.AutomationCondition.eager(), {"D"})],
    ids=["project condition", "plain eager"],
)
def test_a_failed_blocking_check_stops_what_plain_eager_would_carry_on(
    instance, condition, carried_on
):
    """Someone re-materializes candidate_qa D by hand and its blocking check fails: the project's
    condition holds evaluated_qa D back; plain eager() would run it on the failed output."""
    failing: set[str] = set()
    chain = chain_with(condition, failing)
    defs = dg.Definitions(assets=chain)
    for category in ("C", "D"):
        assert materialize(instance, chain, category).success
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert result.total_requested == 0

    failing.add("D")
    materialize(instance, [chain[1]], "D")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result, "evaluated_qa") == carried_on


def test_training_export_follows_a_category_refresh_once(instance):
    """Some categories are never materialized (V has no data): the export still follows any
    training_set update, once per update."""
    from mkailin_assets.definitions import ASSETS, build_resources

    defs = dg.Definitions(assets=ASSETS, resources=build_resources())
    export = dg.AssetKey("training_export")
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.get_num_requested(export) == 0
    instance.report_runless_asset_event(dg.AssetMaterialization("training_set", partition="C"))
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert after.get_num_requested(export) == 1
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert again.get_num_requested(export) == 0
