"""Shared fixtures: the real NLM data beside the repo, temporary DuckDB files, a clean environment,
sample projects and Dagster instances (built by tests/harness.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mkailin_assets.checks import gx_runner

# A PostgreSQL server the tests start themselves (one per session), and a database per test.
from tests.postgres_server import (  # noqa: F401
    fresh_database,
    postgres_env,
    postgres_server,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
BASELINE_FILE = SHARED_DATA / "pubmed" / "pubmed20n0014.xml.gz"
MESH_2024 = SHARED_DATA / "mesh" / "mesh2024-trees.xml.gz"
PUBMEDQA_DIR = SHARED_DATA / "benchmarks" / "pubmedqa"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
# The test session materializes assets in its own process, many times: GX imported once here
# beats a request per check to the GX service; the run processes tests start use the service.
gx_runner.validate_in_this_process()


def require_shared(path: Path) -> Path:
    """Skip (with the reason) when the real NLM data folder is not beside the repo."""
    if not path.exists():
        pytest.skip(f"real NLM data not available: {path} is absent (see ../shared/data/README.md)")
    return path


@pytest.fixture
def shared_data() -> Path:
    return require_shared(SHARED_DATA)


@pytest.fixture
def baseline_file() -> Path:
    return require_shared(BASELINE_FILE)


@pytest.fixture
def mesh_2024() -> Path:
    return require_shared(MESH_2024)


@pytest.fixture
def tmp_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB file, also exported as MKAILIN_DUCKDB_PATH for code that reads settings."""
    path = tmp_path / "mkailin.duckdb"
    monkeypatch.setenv("MKAILIN_DUCKDB_PATH", str(path))
    return path


@pytest.fixture
def sample_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """The environment of a project on the bundled sample under tmp_path, applied for the test."""
    from tests.harness import apply_env, sample_env

    env = sample_env(tmp_path)
    apply_env(monkeypatch, env)
    return env


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A temporary instance with persistent storage (sensor cursors, asset events)."""
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def project_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """The instance of the project's dagster.yaml in a DAGSTER_HOME under tmp_path."""
    from tests.harness import project_instance as open_project_instance

    with open_project_instance(tmp_path / "dagster_home", monkeypatch) as project:
        yield project


# The local OpenAI-compatible server, for every test that speaks to an LLM endpoint.
from tests.fakes.openai_server import fake_openai  # noqa: E402, F401


@pytest.fixture(scope="session", autouse=True)
def stop_gx_service_at_the_end() -> Iterator[None]:
    """Run processes the tests start may start the GX service (checks/gx_service.py); it would
    exit by itself when idle, the session stops it at once."""
    yield
    from mkailin_assets.checks import gx_service

    gx_service.stop()
