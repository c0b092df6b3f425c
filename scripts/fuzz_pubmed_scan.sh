#!/usr/bin/env bash
# Fuzz the compiled PubMed scanner under AddressSanitizer and UBSan: builds an instrumented copy of
# mkailin_assets/ingest/_pubmed_scan.c in a temporary folder and runs scripts/fuzz_pubmed_scan.py
# with it (damaged records must parse or fail exactly as lxml does; real files must scan cleanly).
#   ./scripts/fuzz_pubmed_scan.sh [SEED] [MUTATIONS]      (needs gcc; uses the project's .venv)
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$REPO_ROOT/.venv/bin/python"
BUILD="$(mktemp -d)"
trap 'rm -rf "$BUILD"' EXIT
INCLUDE="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
gcc -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -shared -fPIC -I"$INCLUDE" \
  "$REPO_ROOT/mkailin_assets/ingest/_pubmed_scan.c" -o "$BUILD/_pubmed_scan_asan.so"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"  # CPython's own allocations are not leaks
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
  "$PYTHON" "$REPO_ROOT/scripts/fuzz_pubmed_scan.py" "$BUILD/_pubmed_scan_asan.so" "${1:-1}" "${2:-20000}"
