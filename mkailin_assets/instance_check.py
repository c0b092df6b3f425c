"""Is the Dagster instance's PostgreSQL reachable, and with which login?

The instance under $DAGSTER_HOME keeps its storage in PostgreSQL when its dagster.yaml says so
(deploy/dagster-postgres.yaml). A server that is down or refuses the login would otherwise show up
as a stack trace from deep inside Dagster, mid-run; `check_postgres_instance` says so before
anything starts, naming the setting to fix. `postgres_dsn_from_instance` gives the same server's
address to the LLM live store, so concurrent runs share their claims where the instance lives.

Reads the YAML and the environment only (no dagster import), so scripts call it cheaply:
`python -m mkailin_assets.instance_check` exits 1 with the problems, 0 when there are none.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import yaml

CONNECT_TIMEOUT_S = 5
FIELDS = ("hostname", "port", "username", "password", "db_name")
START_HINT = 'start it with ./scripts/postgres.sh start, then eval "$(./scripts/postgres.sh env)"'


class InstanceConfigError(ValueError):
    """The instance's dagster.yaml names a setting that is missing or malformed."""


@dataclass(frozen=True)
class PostgresTarget:
    """Where the instance's PostgreSQL is, and which setting each part came from."""

    hostname: str
    port: int
    username: str
    password: str
    db_name: str
    params: dict[str, Any]
    sources: dict[str, str]  # field -> the setting that gave it ("DAGSTER_PG_HOST", a YAML path)

    def named(self, *fields: str) -> str:
        return ", ".join(self.sources[field] for field in fields)

    @property
    def address(self) -> str:
        return f"{self.hostname}:{self.port}/{self.db_name}"

    def dsn(self) -> str:
        """A libpq URI (psycopg2, psycopg 3 and SQLAlchemy read it)."""
        userinfo = quote(self.username, safe="")
        if self.password:
            userinfo += ":" + quote(self.password, safe="")
        uri = f"postgresql://{userinfo}@{self.hostname}:{self.port}/{quote(self.db_name, safe='')}"
        params = {"connect_timeout": CONNECT_TIMEOUT_S, **self.params}
        return f"{uri}?{urlencode(params, quote_via=quote)}"


def _instance_yaml(dagster_home: Path) -> tuple[Path, dict[str, Any]]:
    path = Path(dagster_home) / "dagster.yaml"
    if not path.exists():
        return path, {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise InstanceConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise InstanceConfigError(f"{path} must hold a mapping, not {type(data).__name__}")
    return path, data


def _postgres_section(data: dict[str, Any]) -> dict[str, Any] | None:
    """The storage's postgres config: `storage: postgres:` or the older per-storage form."""
    storage = data.get("storage")
    if isinstance(storage, dict) and isinstance(storage.get("postgres"), dict):
        return storage["postgres"]
    for key in ("run_storage", "event_log_storage", "schedule_storage"):
        section = data.get(key)
        if isinstance(section, dict) and "Postgres" in str(section.get("class", "")):
            config = section.get("config")
            return config if isinstance(config, dict) else {}
    return None


def _resolve(value: Any, where: str) -> tuple[str | None, str]:
    """A YAML value, literal or `{env: NAME}`: (value or None when the variable is unset, source)."""
    if isinstance(value, dict) and "env" in value:
        name = str(value["env"])
        return os.environ.get(name), name
    return (None if value is None else str(value)), where


def postgres_target(dagster_home: Path | str) -> PostgresTarget | None:
    """The instance's PostgreSQL, or None when its storage is not PostgreSQL (SQLite, the default).

    Raises InstanceConfigError naming the setting when the YAML's PostgreSQL config is incomplete."""
    path, data = _instance_yaml(Path(dagster_home))
    section = _postgres_section(data)
    if section is None:
        return None
    if "postgres_url" in section:
        raise InstanceConfigError(
            f"{path}: postgres_url is not read by mkailin's checks; use postgres_db "
            "(hostname, port, username, password, db_name) as deploy/dagster-postgres.yaml does"
        )
    db = section.get("postgres_db")
    if not isinstance(db, dict):
        raise InstanceConfigError(f"{path}: storage.postgres needs a postgres_db mapping")
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for field in FIELDS:
        where = f"storage.postgres.postgres_db.{field} in {path}"
        default = {"port": "5432", "password": ""}.get(field)
        value, source = _resolve(db.get(field, default), where)
        sources[field] = source
        if value is None:
            raise InstanceConfigError(f"{source} is not set ({where}); {START_HINT}")
        values[field] = value
    try:
        port = int(values["port"])
    except ValueError as error:
        raise InstanceConfigError(
            f"{sources['port']} must be a port number, not {values['port']!r}"
        ) from error
    params = db.get("params") if isinstance(db.get("params"), dict) else {}
    return PostgresTarget(
        hostname=values["hostname"],
        port=port,
        username=values["username"],
        password=values["password"],
        db_name=values["db_name"],
        params=dict(params),
        sources=sources,
    )


def postgres_dsn_from_instance(dagster_home: Path | str | None = None) -> str | None:
    """The DSN of the instance's PostgreSQL (DAGSTER_HOME by default), or None when the instance's
    storage is not PostgreSQL or no DAGSTER_HOME is set. Raises InstanceConfigError, naming the
    setting, when the instance is on PostgreSQL but a setting is unset or malformed."""
    home = dagster_home if dagster_home is not None else os.environ.get("DAGSTER_HOME")
    if not home:
        return None
    target = postgres_target(home)
    return target.dsn() if target is not None else None


def _connection_problem(target: PostgresTarget, error: Exception) -> str:
    """One sentence for a failed login or connection, naming the settings (never the password)."""
    text = str(error).strip()
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return (
            f"PostgreSQL at {target.hostname}:{target.port} refused the login of user "
            f"{target.username!r} (check {target.named('username', 'password')}): "
            f"{text.splitlines()[0]}"
        )
    if "does not exist" in lowered and "database" in lowered:
        return (
            f"PostgreSQL at {target.hostname}:{target.port} has no database {target.db_name!r} "
            f"({target.named('db_name')}); ./scripts/postgres.sh start creates it"
        )
    if "pg_hba.conf" in lowered:
        return (
            f"PostgreSQL at {target.hostname}:{target.port} refused the connection of user "
            f"{target.username!r} (its pg_hba.conf; check {target.named('username', 'hostname')})"
        )
    return (
        f"PostgreSQL is not reachable at {target.hostname}:{target.port} "
        f"(check {target.named('hostname', 'port')}; {START_HINT}): "
        f"{text.splitlines()[0] if text else type(error).__name__}"
    )


def check_postgres_instance(dagster_home: Path | str) -> list[str]:
    """What keeps the instance under `dagster_home` from using its PostgreSQL: [] when its storage
    is not PostgreSQL or the server accepts the login, else one message per problem."""
    try:
        target = postgres_target(dagster_home)
    except InstanceConfigError as error:
        return [str(error)]
    if target is None:
        return []
    try:
        import psycopg2
    except ImportError:
        return [
            f"the instance in {dagster_home} stores in PostgreSQL, but no PostgreSQL driver is "
            'installed: pip install -e ".[postgres]"'
        ]
    try:
        connection = psycopg2.connect(target.dsn())
    except psycopg2.Error as error:
        return [_connection_problem(target, error)]
    connection.close()
    return []


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    home = args[0] if args else os.environ.get("DAGSTER_HOME")
    if not home:
        print("instance check: DAGSTER_HOME is not set and no directory was given", file=sys.stderr)
        return 1
    problems = check_postgres_instance(home)
    for problem in problems:
        print(f"instance check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
