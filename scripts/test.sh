#!/usr/bin/env bash
# The whole test suite, from a fresh clone: bootstraps npm packages and the
# pinned Python environment (reused when already there), then type-checks,
# lints, builds and runs every unit and integration test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/bootstrap-node.sh
echo "[test] type-check"; npx tsc -p tsconfig.json --noEmit
echo "[test] lint";       npx eslint --max-warnings=0 .
echo "[test] build";      npx tsc -p tsconfig.build.json
echo "[test] tests"
npx vitest run "$@"
