#!/usr/bin/env bash
# The Dagster UI on loopback (http://127.0.0.1:3000), with a persistent instance in .dagster_home/.
# Sources default to the bundled sample; NLM's live servers only with --nlm (or by setting
# MKAILIN_PUBMED_SOURCE / MKAILIN_MESH_SOURCE yourself).
#
# Start: runs left in flight by an unclean stop are marked failed (their slots freed) and resumed
# by run_retry_sensor; the freshness of each category is printed. Ctrl-C or SIGTERM: runs in
# flight are cancelled (not left STARTED) and resume at the next start.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# --postgres (first): the instance on PostgreSQL (scripts/postgres.sh; docs/scale-out.md).
EXTRAS=""
if [[ "${1:-}" == "--postgres" ]]; then shift; EXTRAS="[postgres]"; use_postgres_instance; fi
if [[ "${1:-}" == "--nlm" ]]; then
  shift
  echo "==> sources: NLM's live PubMed and MeSH servers (--nlm)"
else
  if [[ -z "${MKAILIN_PUBMED_SOURCE:-}" ]]; then
    # The sample's files are all there at start: its categories refresh once they are loaded, not
    # after the quiet period meant for NLM's daily update files (MKAILIN_REFRESH_QUIET_S, 300 s).
    export MKAILIN_REFRESH_QUIET_S="${MKAILIN_REFRESH_QUIET_S:-0}"
  fi
  export MKAILIN_PUBMED_SOURCE="${MKAILIN_PUBMED_SOURCE:-$REPO_ROOT/data/sample/pubmed}"
  export MKAILIN_MESH_SOURCE="${MKAILIN_MESH_SOURCE:-$REPO_ROOT/data/sample/mesh/desc_sample.xml}"
  echo "==> sources: $MKAILIN_PUBMED_SOURCE and $MKAILIN_MESH_SOURCE (./scripts/dev.sh --nlm for NLM's servers)"
fi
# One dagster dev per instance: a second one would run a second daemon over the same runs, run
# queue and sensor cursors. The lock is held by this script and everything it starts.
DEV_LOCK="${DAGSTER_HOME:-$REPO_ROOT/.dagster_home}/.dev.lock"
mkdir -p "$(dirname "$DEV_LOCK")"
if command -v flock >/dev/null; then
  exec {LOCK_FD}>>"$DEV_LOCK"
  if ! flock -n "$LOCK_FD"; then
    echo "error: another ./scripts/dev.sh (pid $(head -n1 "$DEV_LOCK" 2>/dev/null || echo '?')) already runs on the instance $(dirname "$DEV_LOCK"); stop it first, or set DAGSTER_HOME to another folder" >&2
    exit 1
  fi
  echo "$$" >"$DEV_LOCK"
fi
ensure_venv "$EXTRAS"
# Every setting checked before the UI starts: one line per problem, exit 2 (mkailin_assets/preflight.py).
"$VENV/bin/python" -m mkailin_assets.preflight --network
ensure_dagster_home
"$VENV/bin/python" -m mkailin_assets.automation.dead_runs
"$VENV/bin/python" -m mkailin_assets.automation.staleness

# dagster dev gets its own session, so a Ctrl-C reaches this script only: the runs are cancelled
# through Dagster first, then its whole process group is stopped.
setsid "$VENV/bin/dagster" dev -w workspace.yaml -h "${MKAILIN_HOST:-127.0.0.1}" -p "${MKAILIN_PORT:-3000}" "$@" &
DAGSTER_PID=$!

stop_platform() {
  trap '' INT TERM
  echo "==> stopping: cancelling runs in flight"
  "$VENV/bin/python" -m mkailin_assets.automation.shutdown || true
  kill -TERM -- "-$DAGSTER_PID" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 -- "-$DAGSTER_PID" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL -- "-$DAGSTER_PID" 2>/dev/null || true
  wait "$DAGSTER_PID" 2>/dev/null || true
  "$VENV/bin/python" -m mkailin_assets.automation.dead_runs --stopped || true
  # The GX service the runs started (its own session, so not in the group above).
  "$VENV/bin/python" -m mkailin_assets.checks.gx_service --stop || true
  exit 0
}
trap stop_platform INT TERM
wait "$DAGSTER_PID"
