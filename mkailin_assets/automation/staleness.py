"""What is stale, per category, from the Dagster instance: the latest release file loaded, the
release file the category's last complete refresh covered, and whether a refresh is due,
running, failed (with the reason) or up to date.

Shown four ways: `./scripts/dev.sh` prints the table at start (`python -m
mkailin_assets.automation.staleness`); one asset check per category on training_export
(`<letter>_up_to_date`, red when the category lags the releases, yellow while it refreshes),
recorded by `staleness_sensor` whenever the table changes (and evaluated with every export, or by
`category_staleness_job` from the UI); the
dataset card (its "Freshness" section) and the `category_freshness` SQL view read the same
facts from the database.
"""

import hashlib
import sys
from dataclasses import asdict, dataclass

import dagster as dg

from mkailin_assets.automation.conditions import sensor_status
from mkailin_assets.automation.releases import BUSY
from mkailin_assets.automation.sensors import affected_since
from mkailin_assets.partitions import CATEGORY_LETTERS

PUBMED_FILES = dg.AssetKey("pubmed_files")
RAW_ABSTRACTS = dg.AssetKey("raw_abstracts")
TRAINING_SET = dg.AssetKey("training_set")
TRAINING_EXPORT = dg.AssetKey("training_export")
JOB_NAME = "category_staleness_job"
SENSOR_NAME = "staleness_sensor"
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
OK_STATES = {"up to date", "no data"}


@dataclass(frozen=True)
class CategoryFreshness:
    category: str
    latest_file: str | None  # the newest release file loaded
    covered_file: str | None  # the newest file loaded before its last complete refresh
    state: str  # up to date | due | running | failed | no data
    reason: str

    @property
    def ok(self) -> bool:
        return self.state in OK_STATES


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None):
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None),
        limit=1,
        ascending=False,
    )
    return result.records[0] if result.records else None


def _file_before(instance: dg.DagsterInstance, storage_id: int):
    """The newest pubmed_files materialization older than storage_id."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=PUBMED_FILES, before_storage_id=storage_id),
        limit=1,
        ascending=False,
    )
    return result.records[0] if result.records else None


def _covered(instance: dg.DagsterInstance, category: str):
    """(storage id, file) the category's last complete refresh read: the raw_abstracts
    materialization that precedes its latest training_set, and the file loaded before it."""
    training = _latest(instance, TRAINING_SET, category)
    if training is None:
        return None, None
    raw = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=RAW_ABSTRACTS,
            asset_partitions=[category],
            before_storage_id=training.storage_id,
        ),
        limit=1,
        ascending=False,
    ).records
    point = raw[0].storage_id if raw else training.storage_id
    loaded = _file_before(instance, point)
    return (loaded.storage_id, loaded.partition_key) if loaded else (0, None)


def _runs_of(instance: dg.DagsterInstance, category: str, statuses, limit: int = 5):
    runs = instance.get_runs(
        dg.RunsFilter(tags={"dagster/partition": category}, statuses=statuses), limit=limit
    )
    return [run for run in runs if run.job_name not in ("pubmed_file_job",)]


def _failure_reason(run: dg.DagsterRun) -> str:
    decided = run.tags.get("mkailin/retry")
    stopped = run.tags.get("mkailin/stopped_by")
    cause = f"stopped with {stopped}: resumes" if stopped else run.tags.get("mkailin/failure_cause")
    return f"run {run.run_id[:8]} {run.status.value.lower()}" + (
        f": {decided}" if decided else f" ({cause})" if cause else ""
    )


def category_freshness(instance: dg.DagsterInstance, category: str, latest) -> CategoryFreshness:
    latest_file = latest.partition_key if latest else None
    covered_id, covered_file = _covered(instance, category)
    running = _runs_of(instance, category, BUSY, 1)
    if running:
        run = running[0]
        return CategoryFreshness(
            category,
            latest_file,
            covered_file,
            "running",
            f"run {run.run_id[:8]} {run.status.value.lower()}",
        )
    finished = _runs_of(instance, category, FINISHED, 1)
    if finished and finished[0].status != dg.DagsterRunStatus.SUCCESS:
        return CategoryFreshness(
            category, latest_file, covered_file, "failed", _failure_reason(finished[0])
        )
    if latest is None:
        return CategoryFreshness(category, None, covered_file, "no data", "no release file loaded")
    affected = affected_since(instance, covered_id or None)
    if category in affected.categories:
        since = covered_file or "the start"
        return CategoryFreshness(
            category, latest_file, covered_file, "due", f"release files after {since} changed it"
        )
    if covered_file is None:
        return CategoryFreshness(category, latest_file, None, "no data", "no file changed it")
    return CategoryFreshness(category, latest_file, covered_file, "up to date", "")


def freshness_table(instance: dg.DagsterInstance) -> list[CategoryFreshness]:
    latest = _latest(instance, PUBMED_FILES)
    return [category_freshness(instance, letter, latest) for letter in CATEGORY_LETTERS]


def render_table(rows: list[CategoryFreshness]) -> str:
    header = ("category", "latest file", "covered file", "state", "reason")
    lines = [header] + [
        (r.category, r.latest_file or "-", r.covered_file or "-", r.state, r.reason) for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(line))
        for line in lines
    )


def digest(rows: list[CategoryFreshness]) -> str:
    text = "|".join(f"{r.category}:{r.latest_file}:{r.covered_file}:{r.state}" for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---- in the UI ----------------------------------------------------------------------------
CHECK_SPECS = [
    dg.AssetCheckSpec(
        f"{letter}_up_to_date",
        asset=TRAINING_EXPORT,
        description=f"Category {letter} covers the latest release file that changed it "
        "(red: a refresh is due, or failed, with the reason).",
    )
    for letter in CATEGORY_LETTERS
]


def check_outcome(row: CategoryFreshness) -> dict:
    """passed / severity / metadata of a category's check: red (ERROR) when a refresh is due or
    failed, yellow (WARN) while it runs, green when up to date or without data."""
    return {
        "check_name": f"{row.category}_up_to_date",
        "passed": row.ok,
        "severity": dg.AssetCheckSeverity.WARN
        if row.state == "running"
        else dg.AssetCheckSeverity.ERROR,
        "metadata": {k: v or "" for k, v in asdict(row).items()},
    }


@dg.multi_asset_check(specs=CHECK_SPECS, name="category_freshness_checks")
def category_freshness_checks(context: dg.AssetCheckExecutionContext):
    for row in freshness_table(context.instance):
        yield dg.AssetCheckResult(asset_key=TRAINING_EXPORT, **check_outcome(row))


def report_freshness(instance: dg.DagsterInstance, rows: list[CategoryFreshness]) -> None:
    """The checks' results recorded without a run (a run per change would cost a process)."""
    for row in rows:
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(asset_key=TRAINING_EXPORT, **check_outcome(row))
        )


category_staleness_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.checks(category_freshness_checks),
    description="Evaluate the per-category freshness checks on training_export.",
)


def build_staleness_sensor(running: bool = True) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=30,
        default_status=sensor_status(running),
        description="Records the per-category freshness checks on training_export "
        "(`<letter>_up_to_date`) whenever the table of latest file / covered file / state "
        "changes, without launching a run.",
    )
    def staleness_sensor(context: dg.SensorEvaluationContext):
        rows = freshness_table(context.instance)
        key = digest(rows)
        if key == context.cursor:
            return dg.SkipReason("freshness unchanged")
        report_freshness(context.instance, rows)
        lagging = [f"{r.category} {r.state}" for r in rows if not r.ok]
        return dg.SensorResult(
            skip_reason="checks recorded; lagging: " + (", ".join(lagging) or "none"),
            cursor=key,
        )

    return staleness_sensor


def main() -> int:
    with dg.DagsterInstance.get() as instance:
        rows = [
            row for row in freshness_table(instance) if row.state != "no data" or row.covered_file
        ]
    if not rows:
        print("==> freshness: no category refreshed yet")
        return 0
    print("==> freshness per category (mkailin_assets.automation.staleness)")
    print(render_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
