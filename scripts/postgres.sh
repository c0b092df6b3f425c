#!/usr/bin/env bash
# A PostgreSQL server for the project's Dagster instance, on loopback only.
#
#   ./scripts/postgres.sh start    initdb (first time), start, create the database
#   ./scripts/postgres.sh status   running or not, and where
#   ./scripts/postgres.sh env      the DAGSTER_PG_* exports: eval "$(./scripts/postgres.sh env)"
#   ./scripts/postgres.sh stop     stop it (the data stays in the data directory)
#
# Data directory: DAGSTER_PG_DATA (default .pgdata/, git-ignored). Port: DAGSTER_PG_PORT (default
# 5433, beside a system server on 5432). Login: user `mkailin` with a password generated at
# initdb into $DAGSTER_PG_DATA/password (mode 0600, never in a tracked file), checked with
# scram-sha-256 on 127.0.0.1; there is no Unix socket. Not `trust`: on loopback that would let
# every local user and process in as superuser, and a password is what a managed server asks too.
# PostgreSQL refuses to run as root: as root, the server runs as DAGSTER_PG_OS_USER (default
# `postgres`, the Debian package's user), which owns $DAGSTER_PG_DATA/cluster.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${DAGSTER_PG_DATA:-$REPO_ROOT/.pgdata}"
# The port of the last start (kept in the data directory), unless DAGSTER_PG_PORT says otherwise.
PORT="${DAGSTER_PG_PORT:-$(cat "$DATA/port" 2>/dev/null || echo 5433)}"
DB="${DAGSTER_PG_DB:-mkailin}"
PGUSER_NAME="mkailin"
OS_USER="${DAGSTER_PG_OS_USER:-postgres}"
CLUSTER="$DATA/cluster"
PWFILE="$DATA/password"
LOG="$DATA/postgres.log"

die() { echo "postgres.sh: $*" >&2; exit 1; }

# initdb and pg_ctl from the PATH, else the newest Debian install.
find_bin() {
  local name="$1" found
  if found="$(command -v "$name" 2>/dev/null)"; then echo "$found"; return; fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$dir/$name" ]] && { echo "$dir/$name"; return; }
  done
  die "$name not found: install PostgreSQL (Debian: apt-get install -y postgresql) or put its bin/ on the PATH"
}

# Run a server command as the unprivileged owner when we are root.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    id "$OS_USER" >/dev/null 2>&1 || die "no user '$OS_USER' to run PostgreSQL as (it refuses root): set DAGSTER_PG_OS_USER"
    runuser -u "$OS_USER" -- "$@"
  else
    "$@"
  fi
}

is_running() { as_owner "$(find_bin pg_ctl)" -D "$CLUSTER" status >/dev/null 2>&1; }

init_cluster() {
  [[ -f "$CLUSTER/PG_VERSION" ]] && return
  echo "==> initdb into $CLUSTER (first start)"
  mkdir -p "$DATA"
  # The owner must be able to reach its cluster directory through this one.
  chmod 0711 "$DATA"
  if [[ "$(id -u)" == 0 ]] && ! runuser -u "$OS_USER" -- test -x "$DATA"; then
    die "user '$OS_USER' cannot reach $DATA (a parent directory is closed to it): set DAGSTER_PG_DATA to a directory it can reach, e.g. /var/tmp/mkailin-pgdata"
  fi
  umask 077
  [[ -s "$PWFILE" ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PWFILE"
  mkdir -p "$CLUSTER"
  [[ "$(id -u)" == 0 ]] && chown "$OS_USER" "$CLUSTER"
  chmod 0700 "$CLUSTER"
  # initdb reads the password from a file its user can read: a copy that lives for the call.
  local pw_copy
  pw_copy="$(mktemp "$DATA/.pw.XXXXXX")"
  cp "$PWFILE" "$pw_copy"
  [[ "$(id -u)" == 0 ]] && chown "$OS_USER" "$pw_copy"
  as_owner "$(find_bin initdb)" -D "$CLUSTER" -U "$PGUSER_NAME" --pwfile="$pw_copy" \
    --auth-host=scram-sha-256 --auth-local=reject -E UTF8 --locale=C.UTF-8 >"$DATA/initdb.log" 2>&1 \
    || { rm -f "$pw_copy"; die "initdb failed, see $DATA/initdb.log"; }
  rm -f "$pw_copy"
  # Loopback TCP only, no Unix socket; room for several run processes (docs/scale-out.md).
  cat >>"$CLUSTER/postgresql.conf" <<EOF
# written by scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = ${DAGSTER_PG_MAX_CONNECTIONS:-200}
EOF
  printf 'host all all 127.0.0.1/32 scram-sha-256\n' >"$CLUSTER/pg_hba.conf"
  [[ "$(id -u)" == 0 ]] && chown "$OS_USER" "$CLUSTER/pg_hba.conf"
  return 0
}

psql_admin() {
  PGPASSWORD="$(cat "$PWFILE")" "$(find_bin psql)" -h 127.0.0.1 -p "$PORT" -U "$PGUSER_NAME" \
    -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

start() {
  init_cluster
  if is_running; then
    echo "==> PostgreSQL already running ($CLUSTER)"
  else
    echo "==> starting PostgreSQL on 127.0.0.1:$PORT ($CLUSTER, log $LOG)"
    touch "$LOG"
    [[ "$(id -u)" == 0 ]] && chown "$OS_USER" "$LOG"
    as_owner "$(find_bin pg_ctl)" -D "$CLUSTER" -l "$LOG" -o "-p $PORT" -w -t 60 start >/dev/null \
      || die "PostgreSQL did not start on port $PORT (DAGSTER_PG_PORT): see $LOG"
    echo "$PORT" >"$DATA/port"
  fi
  if [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]]; then
    psql_admin -c "CREATE DATABASE \"$DB\"" || die "could not create database $DB (DAGSTER_PG_DB)"
  fi
  echo "==> database $DB ready; point the instance at it with:"
  echo "      eval \"\$(./scripts/postgres.sh env)\"   # DAGSTER_PG_* for deploy/dagster-postgres.yaml"
}

stop() {
  if [[ -f "$CLUSTER/PG_VERSION" ]] && is_running; then
    as_owner "$(find_bin pg_ctl)" -D "$CLUSTER" -m fast -w stop >/dev/null
    echo "==> PostgreSQL stopped ($CLUSTER)"
  else
    echo "==> PostgreSQL not running ($CLUSTER)"
  fi
}

status() {
  if [[ -f "$CLUSTER/PG_VERSION" ]] && is_running; then
    echo "running: 127.0.0.1:$(sed -n 4p "$CLUSTER/postmaster.pid"), data $CLUSTER, database $DB"
  else
    echo "stopped: data $CLUSTER"
    return 3
  fi
}

print_env() {
  [[ -s "$PWFILE" ]] || die "no password yet at $PWFILE: run ./scripts/postgres.sh start first"
  printf 'export DAGSTER_PG_HOST=127.0.0.1\n'
  printf 'export DAGSTER_PG_PORT=%s\n' "$PORT"
  printf 'export DAGSTER_PG_USER=%s\n' "$PGUSER_NAME"
  printf 'export DAGSTER_PG_PASSWORD=%s\n' "$(cat "$PWFILE")"
  printf 'export DAGSTER_PG_DB=%s\n' "$DB"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  *) die "usage: $0 start|stop|status|env" ;;
esac
