"""Automation on a real Dagster instance: a loaded file refreshes only the category partitions it
changed, and the QA stages follow their parents but never past a failed blocking check."""

import dagster as dg
import pytest

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
    build_affected_categories_sensor,
    parse_categories,
)
from mkailin_assets.partitions import category_partitions
from tests.harness import materialize as run


def load_file(instance: dg.DagsterInstance, name: str, affected: str) -> None:
    """A pubmed_files materialization as the asset records it (its metadata is the contract)."""
    instance.add_dynamic_partitions("pubmed_files", [name])
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="pubmed_files", partition=name, metadata={"affected_categories": affected}
        )
    )


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_only_the_affected_categories_are_requested(instance):
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


def test_a_category_whose_refresh_waits_to_start_is_not_requested_again(instance):
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


def test_a_file_that_changes_no_category_moves_the_cursor_without_runs(instance):
    sensor = build_affected_categories_sensor("sensor")
    load_file(instance, "pubmed25n0001.xml.gz", "")
    result = evaluate(sensor, instance, None)
    assert list(result.run_requests or []) == []
    assert result.cursor is not None
    assert isinstance(evaluate(sensor, instance, result.cursor), dg.SkipReason)


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
