"""The test harness: the environment of a sample project, Dagster instances, in-process
materializations of the real assets, and copies of a project's DuckDB file.

Every test that runs assets goes through here. Resources are built from the environment at run time
(`build_resources()` under the project's environment), never taken from `defs`, whose resources read
the environment when the code location was imported, so two projects in one process never share a
database.
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from mkailin_assets import settings
from mkailin_assets.db import open_connection, query_pl
from mkailin_assets.definitions import ASSETS, build_resources
from mkailin_assets.resources.method import MethodConfig

BASELINE_FILES = ["pubmed00n0001.xml.gz", "pubmed00n0002.xml.gz"]
UPDATE_FILE = "pubmed00n0003.xml.gz"
SAMPLE_FILES = [*BASELINE_FILES, UPDATE_FILE]
QA_ASSETS = ["candidate_qa", "evaluated_qa"]

Env = dict[str, str | None]  # None: the variable is unset

# ---- the environment ---------------------------------------------------------------------------


def sample_env(root: Path, **overrides: str | None) -> Env:
    """What the assets read at run time: the bundled sample as sources, files under `root`."""
    return {
        "MKAILIN_DUCKDB_PATH": str(root / "mkailin.duckdb"),
        "MKAILIN_EXPORT_DIR": str(root / "exports"),
        "MKAILIN_DOWNLOAD_DIR": str(root / "downloads"),
        "MKAILIN_MESH_SOURCE": str(settings.SAMPLE_MESH_SOURCE),
        "MKAILIN_PUBMED_SOURCE": str(settings.SAMPLE_PUBMED_SOURCE),
        "MKAILIN_LLM_BACKEND": "offline",
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        **overrides,
    }


def apply_env(monkeypatch: pytest.MonkeyPatch, env: Env) -> None:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@contextmanager
def patched_env(env: Env) -> Iterator[None]:
    """The environment set for the block (for module-scoped set-up, where no monkeypatch is)."""
    with pytest.MonkeyPatch.context() as patch:
        apply_env(patch, env)
        yield


def subprocess_env(env: Env) -> dict[str, str]:
    """This process's environment with `env` applied: for `dagster dev` and other children."""
    import os

    merged: dict[str, str | None] = {**os.environ, **env}
    return {name: value for name, value in merged.items() if value is not None}


# ---- Dagster instances -------------------------------------------------------------------------


def python_json(code: str, env: dict[str, str] | None = None) -> Any:
    """`code` in a fresh interpreter (nothing imported yet) in the repository; its last line of
    output, as JSON."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.REPO_ROOT,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ephemeral_instance(files: Sequence[str] = ()) -> dg.DagsterInstance:
    """An in-memory instance, with `files` registered as pubmed_files partitions."""
    instance = dg.DagsterInstance.ephemeral()
    if files:
        instance.add_dynamic_partitions("pubmed_files", list(files))
    return instance


def project_home(path: Path) -> Path:
    """A DAGSTER_HOME holding the project's dagster.yaml (its run queue, pools and storage)."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.REPO_ROOT / "dagster.yaml", path / "dagster.yaml")
    return path


@contextmanager
def project_instance(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    """The instance `dagster dev` would use, configured by the project's dagster.yaml."""
    monkeypatch.setenv("DAGSTER_HOME", str(project_home(home)))
    with dg.DagsterInstance.get() as instance:
        yield instance


# ---- materializations --------------------------------------------------------------------------


def materialize(
    selection: Sequence[str | dg.AssetKey],
    partition_key: str | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    resources: dict[str, Any] | None = None,
    assets: Sequence[Any] = ASSETS,
) -> dg.ExecuteInProcessResult:
    """One in-process run; resources default to the project's, built from the current environment."""
    return dg.materialize(
        assets,
        selection=list(selection),
        partition_key=partition_key,
        instance=instance,
        resources=build_resources() if resources is None else resources,
        raise_on_error=raise_on_error,
    )


def load_sources(
    instance: dg.DagsterInstance,
    categories: Sequence[str],
    files: Sequence[str] | None = None,
    resources: dict[str, Any] | None = None,
) -> dict[str, dg.ExecuteInProcessResult]:
    """The vocabulary, mesh_tree for the categories, the release files in order (all of the
    source by default), then raw_abstracts of each category; returns the raw_abstracts runs."""
    from mkailin_assets.ingest.sources import list_release_files

    materialize(["mesh_vocabulary"], None, instance, resources=resources)
    for category in categories:
        materialize(["mesh_tree"], category, instance, resources=resources)
    names = list(
        files or [r.name for r in list_release_files(settings.get_settings().pubmed_source)]
    )
    instance.add_dynamic_partitions("pubmed_files", names)
    for name in names:
        materialize(["pubmed_files"], name, instance, resources=resources)
    return {c: materialize(["raw_abstracts"], c, instance, resources=resources) for c in categories}


# ---- copies of a project -----------------------------------------------------------------------


def copy_database(source: Path | str, target: Path | str) -> Path:
    """The DuckDB file and its write-ahead log, if any, copied to `target`."""
    for suffix in ("", ".wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return Path(target)


PROJECT_PATHS = ("MKAILIN_DUCKDB_PATH", "MKAILIN_EXPORT_DIR", "MKAILIN_DOWNLOAD_DIR")


def copy_project(env: Env, root: Path, **overrides: str | None) -> Env:
    """A project under `root` starting from the state of `env`'s: the same settings and sources,
    its own copy of the DuckDB file, its own exports and downloads."""
    root.mkdir(parents=True, exist_ok=True)
    own_paths = {name: sample_env(root)[name] for name in PROJECT_PATHS}
    copied = {**env, **own_paths, **overrides}
    copy_database(str(env["MKAILIN_DUCKDB_PATH"]), str(copied["MKAILIN_DUCKDB_PATH"]))
    return copied


# ---- reading results ---------------------------------------------------------------------------


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The metadata values of the asset's (single) materialization in this run."""
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def check_outcomes(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    """(asset, check name) -> passed, for every check evaluated in the run."""
    return {
        (evaluation.asset_key.to_user_string(), evaluation.check_name): evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def materialized_assets(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def step_failure_text(result: dg.ExecuteInProcessResult) -> str:
    """The messages of every step failure of a run, with their causes, as one text."""
    parts = []
    for event in result.get_step_failure_events():
        error = event.event_specific_data.error
        while error is not None:
            parts.append(f"{error.cls_name}: {error.message}")
            error = error.cause
    return "\n".join(parts)


# ---- a project as an object --------------------------------------------------------------------


@dataclass
class Pipeline:
    """One sample project: its environment (DuckDB file, exports), method and instance."""

    root: Path
    env: Env
    method: MethodConfig = field(default_factory=MethodConfig)
    instance: dg.DagsterInstance = field(default_factory=ephemeral_instance)

    @property
    def db_path(self) -> Path:
        return Path(str(self.env["MKAILIN_DUCKDB_PATH"]))

    @property
    def export_dir(self) -> Path:
        return Path(str(self.env["MKAILIN_EXPORT_DIR"]))

    def resources(self, **overrides: Any) -> dict[str, Any]:
        with patched_env(self.env):
            return {**build_resources(), "method": self.method, **overrides}

    def materialize(
        self,
        selection: Sequence[str],
        partition_key: str | None = None,
        raise_on_error: bool = True,
        **resource_overrides: Any,
    ) -> dg.ExecuteInProcessResult:
        resources = self.resources(**resource_overrides)
        with patched_env(self.env):
            return materialize(selection, partition_key, self.instance, raise_on_error, resources)

    def ingest(
        self, categories: Sequence[str], files: Sequence[str] = BASELINE_FILES
    ) -> dict[str, dg.ExecuteInProcessResult]:
        """mesh_tree, the release files in order, then raw_abstracts of each category."""
        with patched_env(self.env):
            return load_sources(self.instance, categories, files, self.resources())

    def load_mesh(self, categories: Sequence[str]) -> None:
        self.materialize(["mesh_vocabulary"])
        for letter in categories:
            self.materialize(["mesh_tree"], letter)

    def load_files(self, names: Sequence[str]) -> list[dg.ExecuteInProcessResult]:
        self.instance.add_dynamic_partitions("pubmed_files", list(names))
        return [self.materialize(["pubmed_files"], name) for name in names]

    # ---- the database (opened per call: the assets need the file unlocked between runs) ----
    def frame(self, sql: str, params: Any = None) -> pl.DataFrame:
        con = open_connection(self.db_path, read_only=True)
        try:
            return query_pl(con, sql, params)
        finally:
            con.close()

    def rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        con = open_connection(self.db_path, read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def scalar(self, sql: str, params: Any = None) -> Any:
        return self.rows(sql, params)[0][0]

    def execute(self, sql: str, params: Any = None) -> None:
        con = open_connection(self.db_path)
        try:
            con.execute(sql, params or [])
        finally:
            con.close()

    def copy_to(self, root: Path, **env: str | None) -> Pipeline:
        """A new pipeline (own DB copy, instance, export dir) starting from this one's state."""
        copied = copy_project(self.env, root, **env)
        return Pipeline(root, copied, method=self.method, instance=ephemeral_instance(SAMPLE_FILES))


def new_pipeline(root: Path, method: MethodConfig | None = None, **env: str | None) -> Pipeline:
    root.mkdir(parents=True, exist_ok=True)
    return Pipeline(root, sample_env(root, **env), method=method or MethodConfig())


# ---- one offline pipeline over several categories, built once per test session ----------------

OFFLINE_CATEGORIES = ["H", "J", "K", "Z"]


@cache
def _offline_template() -> Path:
    root = Path(tempfile.mkdtemp(prefix="mkailin-offline-template-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    pipeline = new_pipeline(root)
    pipeline.ingest(OFFLINE_CATEGORIES, SAMPLE_FILES)
    for letter in OFFLINE_CATEGORIES:
        pipeline.materialize(QA_ASSETS, letter)
    return pipeline.db_path


def offline_sample_pipeline(root: Path, **env: str | None) -> Pipeline:
    """A copy of the sample (all three files) distilled offline for OFFLINE_CATEGORIES, up to
    evaluated_qa; training_set is left to the caller (it reads MKAILIN_DECONTAMINATION)."""
    template = _offline_template()
    return new_pipeline(template.parent).copy_to(root, **env)


# ---- run processes ------------------------------------------------------------------------------
DAGSTER = Path(sys.executable).parent / "dagster"


def materialize_process(select: str, partition: str, env: dict[str, str]) -> subprocess.Popen:
    """`dagster asset materialize` of one partition in a process of its own, as launched runs
    are (stdout and stderr together, as text)."""
    command = [str(DAGSTER), "asset", "materialize", "-m", "mkailin_assets.definitions"]
    return subprocess.Popen(
        [*command, "--select", select, "--partition", partition],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
