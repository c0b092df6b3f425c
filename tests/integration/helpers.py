"""Materialize the real pipeline in tests: the sample inputs, a temp DuckDB file, explicit resources.

A `Pipeline` owns one DuckDB file, one export folder, one ephemeral Dagster instance and the
environment its assets read at run time (MKAILIN_* sources, decontamination list, export dir).
Resources are built explicitly (not taken from `defs`, whose resources read the environment when
the code location was imported), so two pipelines in one process never share a database.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from mkailin_assets import settings
from mkailin_assets.db import open_connection, query_pl
from mkailin_assets.definitions import ASSETS
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig

BASELINE_FILES = ["pubmed26n0001.xml.gz", "pubmed26n0002.xml.gz"]
UPDATE_FILE = "pubmed26n0003.xml.gz"
SAMPLE_FILES = [*BASELINE_FILES, UPDATE_FILE]
QA_ASSETS = ["candidate_qa", "evaluated_qa"]


@contextmanager
def patched_env(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or unset, for None) environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def sample_env(root: Path, **extra: str | None) -> dict[str, str | None]:
    """What the assets read at run time, pointed at the sample and at `root`."""
    return {
        "MKAILIN_DUCKDB_PATH": str(root / "mkailin.duckdb"),
        "MKAILIN_EXPORT_DIR": str(root / "exports"),
        "MKAILIN_DOWNLOAD_DIR": str(root / "downloads"),
        "MKAILIN_MESH_SOURCE": str(settings.SAMPLE_MESH_SOURCE),
        "MKAILIN_PUBMED_SOURCE": str(settings.SAMPLE_PUBMED_SOURCE),
        "MKAILIN_LLM_BACKEND": "offline",
        "GX_ANALYTICS_ENABLED": "false",
        **extra,
    }


@dataclass
class Pipeline:
    root: Path
    env: dict[str, str | None]
    method: MethodConfig = field(default_factory=MethodConfig)
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)

    @property
    def db_path(self) -> Path:
        return Path(self.env["MKAILIN_DUCKDB_PATH"])

    @property
    def export_dir(self) -> Path:
        return Path(self.env["MKAILIN_EXPORT_DIR"])

    def resources(self, **overrides: Any) -> dict[str, Any]:
        with patched_env(self.env):
            llm = LLMResource()  # reads backend, URL and models from the environment
        return {
            "duckdb_store": DuckDBStore(path=str(self.db_path)),
            "method": self.method,
            "llm": llm,
            **overrides,
        }

    def materialize(
        self,
        selection: Sequence[str],
        partition_key: str | None = None,
        raise_on_error: bool = True,
        **resource_overrides: Any,
    ) -> dg.ExecuteInProcessResult:
        with patched_env(self.env):
            return dg.materialize(
                ASSETS,
                selection=list(selection),
                partition_key=partition_key,
                instance=self.instance,
                resources=self.resources(**resource_overrides),
                raise_on_error=raise_on_error,
            )

    # ---- stages ----
    def load_mesh(self, categories: Sequence[str]) -> None:
        for letter in categories:
            self.materialize(["mesh_tree"], letter)

    def load_files(self, names: Sequence[str]) -> list[dg.ExecuteInProcessResult]:
        self.instance.add_dynamic_partitions("pubmed_files", list(names))
        return [self.materialize(["pubmed_files"], name) for name in names]

    def ingest(
        self, categories: Sequence[str], files: Sequence[str] = BASELINE_FILES
    ) -> dict[str, dg.ExecuteInProcessResult]:
        """mesh_tree, the release files in order, then raw_abstracts of each category."""
        self.load_mesh(categories)
        self.load_files(files)
        return {letter: self.materialize(["raw_abstracts"], letter) for letter in categories}

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
        root.mkdir(parents=True, exist_ok=True)
        copy = Pipeline(root, {**self.env, **sample_env(root), **env}, method=self.method)
        for suffix in ("", ".wal"):
            source = Path(str(self.db_path) + suffix)
            if source.exists():
                shutil.copy(source, str(copy.db_path) + suffix)
        copy.instance.add_dynamic_partitions("pubmed_files", SAMPLE_FILES)
        return copy


def new_pipeline(root: Path, method: MethodConfig | None = None, **env: str | None) -> Pipeline:
    root.mkdir(parents=True, exist_ok=True)
    return Pipeline(root, sample_env(root, **env), method=method or MethodConfig())


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
    source = Pipeline(template.parent, sample_env(template.parent))
    return source.copy_to(root, **env)
