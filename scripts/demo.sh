#!/usr/bin/env bash
# The main job on the embedded default: bootstraps what it needs, starts its own
# Jupyter server and kernel, and runs the example Dask notebook end to end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/bootstrap-node.sh
npx tsc -p tsconfig.build.json
node bin/nbrewind-engine.js run examples/dask-demo.ipynb -o examples/dask-demo.out.ipynb "$@"
