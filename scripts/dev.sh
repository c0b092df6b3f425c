#!/usr/bin/env bash
# The Dagster UI on loopback (http://127.0.0.1:3000), with a persistent instance in .dagster_home/.
# Sources default to the bundled sample; NLM's live servers only with --nlm (or by setting
# MKAILIN_PUBMED_SOURCE / MKAILIN_MESH_SOURCE yourself).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# --postgres (first): the instance on PostgreSQL (scripts/postgres.sh; docs/scale-out.md).
EXTRAS=""
if [[ "${1:-}" == "--postgres" ]]; then shift; EXTRAS="[postgres]"; use_postgres_instance; fi
if [[ "${1:-}" == "--nlm" ]]; then
  shift
  echo "==> sources: NLM's live PubMed and MeSH servers (--nlm)"
else
  export MKAILIN_PUBMED_SOURCE="${MKAILIN_PUBMED_SOURCE:-$REPO_ROOT/data/sample/pubmed}"
  export MKAILIN_MESH_SOURCE="${MKAILIN_MESH_SOURCE:-$REPO_ROOT/data/sample/mesh/desc_sample.xml}"
  echo "==> sources: $MKAILIN_PUBMED_SOURCE and $MKAILIN_MESH_SOURCE (./scripts/dev.sh --nlm for NLM's servers)"
fi
ensure_venv "$EXTRAS"
# Every setting checked before the UI starts: one line per problem, exit 2 (mkailin_assets/preflight.py).
"$VENV/bin/python" -m mkailin_assets.preflight --network
ensure_dagster_home
exec "$VENV/bin/dagster" dev -w workspace.yaml -h "${MKAILIN_HOST:-127.0.0.1}" -p "${MKAILIN_PORT:-3000}" "$@"
