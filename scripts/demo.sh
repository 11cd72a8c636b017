#!/usr/bin/env bash
# The main job on the embedded default, end to end: bootstraps what it needs,
# starts its own Jupyter server and kernel, audits the example Dask notebook,
# then repeats it with a changed parameter (only what the change touches runs,
# and --explain says why), then once more unchanged (nothing runs at all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/bootstrap-node.sh
npx tsc -p tsconfig.build.json
nb=examples/dask-demo.ipynb
cli() { node bin/nbrewind-engine.js "$@"; }
rm -rf examples/dask-demo.nbrewind
echo; echo "== 1. audit: run every cell and record a checkpoint per cell in examples/dask-demo.nbrewind/"
cli audit "$nb" -o examples/dask-demo.out.ipynb "$@"
echo; echo "== 2. repeat with n_chunks=24: only what the parameter touches runs (--explain says why)"
cli repeat "$nb" -o examples/dask-demo.out.ipynb -p n_chunks 24 --explain "$@"
echo; echo "== 3. repeat again, unchanged: every cell is reused and no kernel is started"
cli repeat "$nb" -o examples/dask-demo.out.ipynb -p n_chunks 24 "$@"
