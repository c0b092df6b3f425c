"""The Dagster instance on PostgreSQL, for real: deploy/dagster-postgres.yaml against a server the
tests start (scripts/postgres.sh), real assets materialized into a temporary DuckDB file through
it, the `duckdb` pool enforced across run processes, and a clear error naming the setting when the
server is down or refuses the login."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import psycopg2
import pytest

from mkailin_assets.automation.pools import initialize_pools
from mkailin_assets.ingest.sources import list_release_files
from mkailin_assets.instance_check import (
    check_postgres_instance,
    main,
    postgres_dsn_from_instance,
)
from mkailin_assets.settings import REPO_ROOT, SAMPLE_PUBMED_SOURCE
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer
from tests.harness import (
    apply_env,
    materialize,
    materialize_process,
    sample_env,
    subprocess_env,
)
from tests.integration.test_concurrent_runs import step_windows

DEPLOY_YAML = REPO_ROOT / "deploy" / "dagster-postgres.yaml"
CATEGORIES = ["C", "D", "G"]


def postgres_home(path: Path) -> Path:
    """A DAGSTER_HOME holding deploy/dagster-postgres.yaml as its dagster.yaml."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY_YAML, path / "dagster.yaml")
    return path


@pytest.fixture
def pg_env(postgres_env) -> dict[str, str]:
    return postgres_env


# ---- the server scripts/postgres.sh runs -----------------------------------------------------
def test_the_server_listens_on_loopback_only_with_a_password_kept_out_of_the_repo(
    postgres_server,
):
    connection = psycopg2.connect(postgres_server.dsn())
    with connection.cursor() as cursor:
        cursor.execute("SHOW listen_addresses")
        assert cursor.fetchone()[0] == "127.0.0.1"
        cursor.execute("SHOW unix_socket_directories")
        assert cursor.fetchone()[0] == ""
    connection.close()
    password_file = postgres_server.data_dir / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password_file.read_text() == postgres_server.password
    tracked = subprocess.run(
        ["git", "grep", "-l", postgres_server.password], cwd=REPO_ROOT, capture_output=True
    )
    assert tracked.returncode == 1, "the generated password is in no tracked file"
    status = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "postgres.sh"), "status"],
        env={**os.environ, **postgres_server.env()},
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0 and f"127.0.0.1:{postgres_server.port}" in status.stdout


# ---- the check at start ----------------------------------------------------------------------
def test_the_check_passes_and_the_dsn_reaches_the_instance_database(pg_env, tmp_path):
    home = postgres_home(tmp_path / "home")
    assert check_postgres_instance(home) == []
    assert main([str(home)]) == 0
    dsn = postgres_dsn_from_instance(home)
    assert dsn is not None
    connection = psycopg2.connect(dsn)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone()[0] == pg_env["DAGSTER_PG_DB"]
    connection.close()


def test_the_sqlite_instance_needs_no_check_and_has_no_dsn(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    assert check_postgres_instance(home) == []
    assert postgres_dsn_from_instance(home) is None
    assert postgres_dsn_from_instance(tmp_path / "no-yaml-here") is None


def test_a_server_that_is_down_is_named_by_its_settings(pg_env, tmp_path, monkeypatch, capsys):
    from tests.postgres_server import free_port

    monkeypatch.setenv("DAGSTER_PG_PORT", str(free_port()))
    home = postgres_home(tmp_path / "home")
    (problem,) = check_postgres_instance(home)
    assert "not reachable" in problem
    assert "DAGSTER_PG_HOST" in problem and "DAGSTER_PG_PORT" in problem
    assert "./scripts/postgres.sh start" in problem
    assert main([str(home)]) == 1
    assert "DAGSTER_PG_PORT" in capsys.readouterr().err


def test_a_refused_login_names_the_user_and_password_settings(pg_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "not-the-password")
    (problem,) = check_postgres_instance(postgres_home(tmp_path / "home"))
    assert "refused the login" in problem
    assert "DAGSTER_PG_USER" in problem and "DAGSTER_PG_PASSWORD" in problem
    assert "not-the-password" not in problem


def test_an_unset_setting_and_a_missing_database_are_named(pg_env, tmp_path, monkeypatch):
    home = postgres_home(tmp_path / "home")
    monkeypatch.setenv("DAGSTER_PG_DB", "no_such_database")
    (problem,) = check_postgres_instance(home)
    assert "no database 'no_such_database'" in problem and "DAGSTER_PG_DB" in problem
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    (problem,) = check_postgres_instance(home)
    assert problem.startswith("DAGSTER_PG_PASSWORD is not set")


# ---- real runs through the instance ----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_real_assets_through_the_postgres_instance_with_the_pool_enforced(
    pg_env, tmp_path, monkeypatch
):
    if not SAMPLE_PUBMED_SOURCE.exists() or not any(SAMPLE_PUBMED_SOURCE.rglob("*.xml.gz")):
        pytest.skip(f"sample release files are absent from {SAMPLE_PUBMED_SOURCE}")
    project = sample_env(tmp_path)
    apply_env(monkeypatch, project)
    monkeypatch.setenv("DAGSTER_HOME", str(postgres_home(tmp_path / "home")))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert initialize_pools(instance) == {"duckdb": 1}

        # In this process: the vocabulary, the categories' trees and the release files, in order.
        assert materialize(["mesh_vocabulary"], None, instance).success
        for category in CATEGORIES:
            assert materialize(["mesh_tree"], category, instance).success
        names = [release.name for release in list_release_files(str(SAMPLE_PUBMED_SOURCE))]
        instance.add_dynamic_partitions("pubmed_files", names)
        for name in names:
            assert materialize(["pubmed_files"], name, instance).success

        # Then one run process per category at once, as launched runs are, on the same instance.
        env = subprocess_env({**project, **pg_env, "DAGSTER_HOME": os.environ["DAGSTER_HOME"]})
        runs = [materialize_process("raw_abstracts", category, env) for category in CATEGORIES]
        outputs = [run.communicate(timeout=480)[0] for run in runs]
        for category, run, output in zip(CATEGORIES, runs, outputs, strict=True):
            assert run.returncode == 0, f"run for {category} failed:\n{output[-4000:]}"

        category_runs = [
            run
            for run in instance.get_runs()
            if run.tags.get("dagster/partition") in CATEGORIES and run.job_name == "__ASSET_JOB"
        ]
        assert len(category_runs) == len(CATEGORIES)
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in category_runs)
        # The pool (limit 1, slots in PostgreSQL) let one writer step run at a time.
        windows = sorted(w for run in category_runs for w in step_windows(instance, run.run_id))
        assert len(windows) >= len(CATEGORIES)
        for (_, end), (next_start, _) in zip(windows, windows[1:], strict=False):
            assert next_start >= end - 0.05, windows
        assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 1

        # The LLM stage of the three categories at once against a model server with latency:
        # their model phases overlap (only the short read and write phases take the writer),
        # and a call two categories share is paid once (claims in PostgreSQL's live store).
        with FakeOpenAIServer(latency_s=1.0, seed=3) as server:
            llm = {
                "MKAILIN_LLM_BACKEND": "openai",
                "MKAILIN_LLM_BASE_URL": server.url,
                "MKAILIN_LLM_API_KEY": "sk-postgres-runs",
                "MKAILIN_LLM_STRUCTURED_OUTPUT": "json_schema",
                "MKAILIN_SAMPLE_PER_CATEGORY": "6",
            }
            llm_runs = [
                materialize_process("candidate_qa", category, {**env, **llm})
                for category in CATEGORIES
            ]
            outputs = [run.communicate(timeout=480)[0] for run in llm_runs]
            for category, run, output in zip(CATEGORIES, llm_runs, outputs, strict=True):
                assert run.returncode == 0, f"candidate_qa {category} failed:\n{output[-4000:]}"
            assert max(server.stats.by_hash.values()) == 1  # no request was paid twice
            paid = server.stats.by_path[CHAT_PATH]
        qa_runs = [
            run
            for run in instance.get_runs()
            if dg.AssetKey("candidate_qa") in (run.asset_selection or set())
        ]
        qa_windows = sorted(w for run in qa_runs for w in step_windows(instance, run.run_id))
        assert len(qa_windows) == len(CATEGORIES)
        overlapping = sum(
            1 for (_, end), (start, _) in zip(qa_windows, qa_windows[1:], strict=False)
            if start < end
        )  # fmt: skip
        assert overlapping >= 1, qa_windows  # one ran its model phase while another held it

    # The run history is in PostgreSQL, not in files under DAGSTER_HOME.
    connection = psycopg2.connect(
        postgres_dsn_from_instance(os.environ["DAGSTER_HOME"]) or "unreachable"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs")
        assert cursor.fetchone()[0] >= len(CATEGORIES) + 1 + len(CATEGORIES) + len(names)
        cursor.execute("SELECT count(*) FROM mkailin_llm_live")  # the shared answers live here
        assert cursor.fetchone()[0] == paid
    connection.close()
    with duckdb.connect(str(project["MKAILIN_DUCKDB_PATH"]), read_only=True) as con:
        counts = dict(
            con.execute("SELECT category, count(*) FROM raw_abstracts GROUP BY category").fetchall()
        )
    assert counts == {"C": 25, "D": 19, "G": 21}


def test_set_up_stops_with_one_line_when_the_server_is_down(pg_env, tmp_path):
    """scripts/_env.sh's ensure_dagster_home, as dev.sh --postgres runs it, against a closed port."""
    from tests.postgres_server import free_port

    env = {**os.environ, **pg_env, "DAGSTER_PG_PORT": str(free_port())}
    env |= {"DAGSTER_HOME": str(tmp_path / "home"), "MKAILIN_VENV": str(Path(sys.prefix))}
    script = 'source scripts/_env.sh; INSTANCE_YAML="$PWD/deploy/dagster-postgres.yaml"; ensure_dagster_home'
    done = subprocess.run(
        ["bash", "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "DAGSTER_PG_PORT" in done.stderr and "not reachable" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
