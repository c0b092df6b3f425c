"""Declarative automation: which conditions the QA assets carry and who evaluates them.

MKAILIN_AUTOMATION chooses how a newly loaded PubMed file reaches the category partitions:
- "sensor" (default): the affected-categories sensor requests one `category_pipeline_job` run per
  affected category (raw_abstracts → training_set in one run, so a failing blocking check stops
  the chain inside that run). The automation-condition sensor still runs, so a stage someone
  materializes by hand in the UI is followed by its downstream partitions.
- "eager": the affected-categories sensor refreshes only `raw_abstracts`; the automation-condition
  sensor carries each downstream stage, one tick at a time.
- "off": both sensors start stopped (switch them on in the UI); runs are launched by hand.
"""

from __future__ import annotations

import dagster as dg

from mkailin_assets import settings
from mkailin_assets.settings import AutomationMode

# The category-partitioned stages below raw_abstracts; raw_abstracts itself must not be eager:
# it depends on *all* pubmed_files partitions, so eager() would refresh all 16 categories for
# every file. The affected-categories sensor refreshes exactly the categories a file changes.
DOWNSTREAM_ASSETS: tuple[str, ...] = ("candidate_qa", "evaluated_qa", "training_set")
AUTOMATION_SENSOR_NAME = "mkailin_automation_sensor"


def automation_mode() -> AutomationMode:
    """The MKAILIN_AUTOMATION setting (validated by the settings model)."""
    return settings.get_settings().automation


def downstream_condition() -> dg.AutomationCondition:
    """Refresh a partition when its parents updated, but never past a failed blocking check.

    Plain eager() would schedule the downstream partition after a failed check in another run.
    The release files are ignored: candidate_qa reads the whole corpus (retrieval), but a new file
    reaches a category through raw_abstracts (the affected-categories sensor), not through every
    category at once."""
    release_files = dg.AssetSelection.assets("pubmed_files")
    return (
        dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).ignore(release_files)


def sensor_status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def automation_condition_sensor(
    mode: AutomationMode | None = None,
) -> dg.AutomationConditionSensorDefinition:
    """The evaluator of the conditions above (Dagster's default one starts STOPPED)."""
    mode = mode or automation_mode()
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        # Only assets that carry a condition are evaluated; selecting all keeps this valid
        # whatever assets the code location holds.
        target=dg.AssetSelection.all(),
        default_status=sensor_status(mode != "off"),
        minimum_interval_seconds=30,
        description=f"Evaluates the QA stages' automation conditions (MKAILIN_AUTOMATION={mode}).",
    )
