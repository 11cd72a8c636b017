#!/usr/bin/env bash
# Install the npm dependencies exactly as package-lock.json pins them, once:
# a digest of the lock file kept in node_modules says whether they are current.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
have=$(cat node_modules/.nbrewind-lock-digest 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "[bootstrap] installing npm packages (package-lock.json changed or node_modules missing)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.nbrewind-lock-digest
fi
