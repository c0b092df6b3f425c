"""Check for PubMed release files now, with the release sensor's own logic.

    python -m mkailin_assets.automation.check_releases [--dry-run] [--nlm]

Uses the instance at $DAGSTER_HOME (a relative path is taken from the current folder; unset =
the repository's .dagster_home/, as scripts/ use). Like ./scripts/dev.sh, the sources are the
bundled sample unless MKAILIN_PUBMED_SOURCE / MKAILIN_MESH_SOURCE are set or --nlm is given
(NLM's servers). The settings are checked first (mkailin_assets.preflight). It decides exactly as a tick
of pubmed_release_sensor would (MeSH vocabulary first, new files in NLM's order, retries of
failed files, bounded attempts) and runs what it decides here, one run after the other, recorded
in the instance like any run: the UI shows them, and affected_categories_sensor refreshes the
categories they change. --dry-run prints the decision only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import dagster as dg

from mkailin_assets import preflight, settings
from mkailin_assets.automation.releases import ReleaseRetriesExhausted
from mkailin_assets.automation.sensors import (
    ListReleaseFiles,
    ReleasePlan,
    default_list_release_files,
    plan_release_check,
)
from mkailin_assets.partitions import pubmed_file_partitions

TRIGGER_TAG = {"mkailin/trigger": "check_releases"}


def release_definitions() -> dg.Definitions:
    """The code location's assets, jobs and resources (the same parts definitions.py assembles,
    without its sensors: this command is the sensor's decision run by hand)."""
    from mkailin_assets.assets.catalog import ASSETS
    from mkailin_assets.automation.jobs import JOBS
    from mkailin_assets.resources.catalog import build_resources

    return dg.Definitions(assets=ASSETS, jobs=JOBS, resources=build_resources())


def run_plan(instance: dg.DagsterInstance, defs: dg.Definitions, plan: ReleasePlan) -> list[str]:
    """Register the plan's new files and execute its runs in order; returns the failed runs'
    descriptions (the first failure stops the rest: later files could not load before it)."""
    if plan.new_names:
        instance.add_dynamic_partitions(pubmed_file_partitions.name, plan.new_names)
    for request in plan.requests:
        job = defs.resolve_job_def(request.job_name or "pubmed_file_job")
        result = job.execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            tags={**request.tags, **TRIGGER_TAG},
            raise_on_error=False,
        )
        what = f"{request.job_name} {request.partition_key or ''}".strip()
        print(f"  {what}: {'loaded' if result.success else 'FAILED'} (run {result.run_id})")
        if not result.success:
            return [f"{what} (run {result.run_id})"]
    return []


def check_now(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    list_files: ListReleaseFiles = default_list_release_files,
    dry_run: bool = False,
) -> int:
    """0 when everything decided ran (or nothing was due), 1 on a failed run or exhausted file."""
    for _ in range(2):  # a second look after the vocabulary was loaded first
        try:
            plan = plan_release_check(instance, None, list_files)
        except ReleaseRetriesExhausted as error:
            print(f"release check failed: {error}", file=sys.stderr)
            return 1
        print(plan.summary())
        if dry_run or not plan.requests:
            return 0
        failed = run_plan(instance, defs, plan)
        if failed:
            print(f"release check stopped at {failed[0]}", file=sys.stderr)
            return 1
        if not plan.waiting:
            return 0
    return 0


def prepare_environment(nlm: bool) -> None:
    """The environment ./scripts/dev.sh gives the UI: an absolute DAGSTER_HOME holding the
    project's dagster.yaml, and the bundled sample as sources unless told otherwise."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.REPO_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(settings.REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)  # Dagster accepts only an absolute path
    if not nlm:
        os.environ.setdefault("MKAILIN_PUBMED_SOURCE", str(settings.SAMPLE_PUBMED_SOURCE))
        os.environ.setdefault("MKAILIN_MESH_SOURCE", str(settings.SAMPLE_MESH_SOURCE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="print the decision, run nothing")
    parser.add_argument(
        "--nlm", action="store_true", help="NLM's servers as sources (default: the sample)"
    )
    args = parser.parse_args(argv)
    prepare_environment(args.nlm)
    preflight.exit_on_problems(network=True)
    print(
        f"release check: {settings.get_settings().pubmed_source} "
        f"(instance {os.environ['DAGSTER_HOME']})"
    )
    with dg.DagsterInstance.get() as instance:
        return check_now(instance, release_definitions(), dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
