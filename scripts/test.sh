#!/usr/bin/env bash
# The test suite: lint, then every test (slow ones included). pytest's exit 5 (no tests) fails.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# CI adds the local model server (MKAILIN_TEST_EXTRAS="[dev,local]"), so its tests run there.
ensure_venv "${MKAILIN_TEST_EXTRAS:-[dev]}"
"$VENV/bin/ruff" check mkailin_assets tests benchmarks scripts
"$VENV/bin/ruff" format --check mkailin_assets tests benchmarks scripts
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
