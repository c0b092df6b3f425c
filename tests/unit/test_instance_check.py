"""Reading the instance's PostgreSQL settings from its dagster.yaml, without a server: which
setting a value came from, and a message naming it when one is missing or malformed."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from mkailin_assets.instance_check import (
    InstanceConfigError,
    check_postgres_instance,
    postgres_dsn_from_instance,
    postgres_target,
)
from mkailin_assets.settings import REPO_ROOT

PG_ENV = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "6543",
    "DAGSTER_PG_USER": "mkailin",
    "DAGSTER_PG_PASSWORD": "p@ss:w/rd",
    "DAGSTER_PG_DB": "dagster",
}


def home_with(tmp_path: Path, yaml_text: str | None = None) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    if yaml_text is None:
        shutil.copy(REPO_ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(yaml_text)
    return home


@pytest.fixture
def pg_env(monkeypatch) -> None:
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)


def test_the_deploy_yaml_gives_a_dsn_with_every_setting_quoted(tmp_path, pg_env):
    home = home_with(tmp_path)
    target = postgres_target(home)
    assert target is not None
    assert target.sources == {
        "hostname": "DAGSTER_PG_HOST",
        "port": "DAGSTER_PG_PORT",
        "username": "DAGSTER_PG_USER",
        "password": "DAGSTER_PG_PASSWORD",
        "db_name": "DAGSTER_PG_DB",
    }
    parts = urlsplit(postgres_dsn_from_instance(home))
    assert (parts.scheme, parts.hostname, parts.port) == ("postgresql", "127.0.0.1", 6543)
    assert unquote(parts.password) == "p@ss:w/rd" and parts.path == "/dagster"
    assert parse_qs(parts.query)["connect_timeout"] == ["10"], "the YAML's params are kept"


def test_dagster_home_comes_from_the_environment(tmp_path, pg_env, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert postgres_dsn_from_instance() is None
    monkeypatch.setenv("DAGSTER_HOME", str(home_with(tmp_path)))
    assert postgres_dsn_from_instance() is not None


def test_an_unset_variable_is_named_with_where_the_yaml_asks_for_it(tmp_path, pg_env, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_HOST")
    home = home_with(tmp_path)
    with pytest.raises(InstanceConfigError, match=r"^DAGSTER_PG_HOST is not set \(storage\."):
        postgres_target(home)
    (problem,) = check_postgres_instance(home)
    assert problem.startswith("DAGSTER_PG_HOST is not set") and "postgres.sh start" in problem


def test_a_port_that_is_not_a_number_is_named(tmp_path, pg_env, monkeypatch):
    monkeypatch.setenv("DAGSTER_PG_PORT", "fivefourthree")
    (problem,) = check_postgres_instance(home_with(tmp_path))
    assert problem == "DAGSTER_PG_PORT must be a port number, not 'fivefourthree'"


def test_literal_values_and_the_older_per_storage_form_are_read(tmp_path):
    home = home_with(
        tmp_path,
        "run_storage:\n"
        "  module: dagster_postgres.run_storage\n"
        "  class: PostgresRunStorage\n"
        "  config:\n"
        "    postgres_db: {hostname: db.internal, username: u, password: pw, db_name: d}\n",
    )
    target = postgres_target(home)
    assert target is not None and target.port == 5432, "the port defaults as Dagster's does"
    assert target.sources["hostname"].startswith("storage.postgres.postgres_db.hostname in ")


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("storage: [unclosed\n", "is not valid YAML"),
        ("- a list\n", "must hold a mapping"),
        ("storage:\n  postgres:\n    postgres_url: postgresql://x\n", "use postgres_db"),
        ("storage:\n  postgres: {}\n", "needs a postgres_db mapping"),
    ],
)
def test_a_malformed_instance_yaml_is_one_message_naming_the_file(tmp_path, yaml_text, expected):
    home = home_with(tmp_path, yaml_text)
    (problem,) = check_postgres_instance(home)
    assert expected in problem and str(home / "dagster.yaml") in problem


def test_the_project_sqlite_instance_and_a_home_without_yaml_need_nothing(tmp_path):
    home = tmp_path / "sqlite"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    assert postgres_target(home) is None
    assert check_postgres_instance(home) == []
    assert check_postgres_instance(tmp_path / "empty") == []
