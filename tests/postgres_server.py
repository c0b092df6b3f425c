"""A real PostgreSQL server for the tests, started and stopped by the tests themselves through the
project's own command (scripts/postgres.sh), in a temporary data directory on a free port.

Skips, with the reason, only when the PostgreSQL binaries are absent. tests/conftest.py makes the
fixtures `postgres_server` (one server per session) and `fresh_database` available to every test.
"""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mkailin_assets.settings import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"


def postgres_binaries_present() -> bool:
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return True
    return any(Path(d, "initdb").exists() for d in glob.glob("/usr/lib/postgresql/*/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    data_dir: Path
    port: int
    user: str
    password: str
    db: str

    def env(self, db: str | None = None) -> dict[str, str]:
        """The DAGSTER_PG_* settings deploy/dagster-postgres.yaml reads."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": db or self.db,
            "DAGSTER_PG_DATA": str(self.data_dir),
        }

    def dsn(self, db: str | None = None) -> str:
        return (
            f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{db or self.db}"
            "?connect_timeout=5"
        )

    def create_database(self, name: str) -> str:
        import psycopg2

        connection = psycopg2.connect(self.dsn("postgres"))
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return name


def run_script(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        ["bash", str(SCRIPT), command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the session, via `scripts/postgres.sh start`, stopped at the end."""
    if not postgres_binaries_present():
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are absent: apt-get install postgresql")
    # Under /tmp, not pytest's tmp dir: the server's user must be able to reach it.
    data_dir = Path(tempfile.mkdtemp(prefix="mkailin-pg-"))
    env = {"DAGSTER_PG_DATA": str(data_dir), "DAGSTER_PG_PORT": str(free_port())}
    started = run_script("start", env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in run_script("env", env).stdout.splitlines()
            if line.startswith("export ")
        )
        yield PostgresServer(
            data_dir=data_dir,
            port=int(exports["DAGSTER_PG_PORT"]),
            user=exports["DAGSTER_PG_USER"],
            password=exports["DAGSTER_PG_PASSWORD"],
            db=exports["DAGSTER_PG_DB"],
        )
    finally:
        run_script("stop", env)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def fresh_database(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's server for one test; returns its name."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def postgres_env(
    postgres_server: PostgresServer, fresh_database: str, monkeypatch
) -> dict[str, str]:
    """The DAGSTER_PG_* settings of a fresh database, set in this process's environment."""
    env = postgres_server.env(fresh_database)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
