# Shared set-up for scripts/: a project virtual environment, (re)installed when pyproject.toml changes,
# and a persistent Dagster home with the project's dagster.yaml.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
VENV="${MKAILIN_VENV:-$REPO_ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"

ensure_venv() {
  local extras="$1"   # "", "[dev]", "[local]" or "[dev,local]"
  # The C scanner is built at install time, so its source is part of the stamp too.
  local stamp="$VENV/.mkailin-install-$(cat pyproject.toml mkailin_assets/ingest/*.c | sha256sum | cut -c1-16)-${extras//[^a-z]/}"
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating virtual environment in $VENV"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  if [[ ! -f "$stamp" ]]; then
    echo "==> installing mkailin$extras (first run only)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".$extras"
    touch "$stamp"
  fi
}

# The instance on PostgreSQL instead of SQLite: the server scripts/postgres.sh runs (started if
# needed), deploy/dagster-postgres.yaml as the instance's dagster.yaml.
use_postgres_instance() {
  "$REPO_ROOT/scripts/postgres.sh" start
  eval "$("$REPO_ROOT/scripts/postgres.sh" env)"
  INSTANCE_YAML="$REPO_ROOT/deploy/dagster-postgres.yaml"
}

ensure_dagster_home() {
  export DAGSTER_HOME="${DAGSTER_HOME:-$REPO_ROOT/.dagster_home}"
  mkdir -p "$DAGSTER_HOME"
  cp "${INSTANCE_YAML:-$REPO_ROOT/dagster.yaml}" "$DAGSTER_HOME/dagster.yaml"
  # A PostgreSQL instance that is down or refuses the login: one line naming the setting, now.
  if grep -qE "postgres_(db|url)" "$DAGSTER_HOME/dagster.yaml"; then
    "$VENV/bin/python" -m mkailin_assets.instance_check || exit 1
  fi
  # Pools exist before any run starts, so concurrent first runs cannot both create a slot.
  "$VENV/bin/python" -m mkailin_assets.automation.pools
}

export GX_ANALYTICS_ENABLED=false
export DAGSTER_DISABLE_TELEMETRY=1
# Threads of the code server `dagster dev` starts (Dagster's default: cores + 4, 6 on two). Each
# run launch holds one until the run's process has started, so a backfill launching 8 runs at
# once waited for threads and started its runs seconds apart (docs/scale-out.md §8).
export DAGSTER_GRPC_MAX_WORKERS="${DAGSTER_GRPC_MAX_WORKERS:-16}"
