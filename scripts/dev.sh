#!/usr/bin/env bash
# The Dagster UI on loopback (http://127.0.0.1:3000), with a persistent instance in .dagster_home/.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_venv ""
ensure_dagster_home
exec "$VENV/bin/dagster" dev -w workspace.yaml -h "${MKAILIN_HOST:-127.0.0.1}" -p "${MKAILIN_PORT:-3000}"
