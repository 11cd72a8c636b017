#!/usr/bin/env bash
# TaskVine (cctools: ndcctools.taskvine and vine_worker) for the tests and
# benches that need it, built once per machine from the source tarball in
# shared/third_party/ into a cache folder named by the tarball's digest and
# the Python it was built for, and reused afterwards (like the managed Python
# environment). Prints the install prefix: PREFIX/bin has vine_worker,
# PREFIX/lib/python3.X/site-packages has ndcctools.
#   NBREWIND_CCTOOLS_TARBALL  the source tarball (default: ../shared/third_party/cctools-*.tar.gz beside the repository)
#   NBREWIND_CACHE_DIR        the cache root (default ~/.cache/nbrewind-engine)
# TaskVine is optional for users: nothing else in the project needs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The project's shared/ folder sits beside the repository (a clone's parent, or a worktree's ancestor).
find_tarball() {
  local d=$root
  while [ "$d" != / ]; do
    d=$(dirname "$d")
    ls "$d"/shared/third_party/cctools-*.tar.gz 2>/dev/null | head -1 && return 0
  done
  return 0
}
tarball=${NBREWIND_CCTOOLS_TARBALL:-$(find_tarball)}
[ -n "$tarball" ] && [ -f "$tarball" ] || { echo "taskvine: no cctools source tarball (set NBREWIND_CCTOOLS_TARBALL, or put shared/third_party/cctools-*.tar.gz beside the repository or a folder above it)" >&2; exit 2; }
python=${NBREWIND_PYTHON:-python3}
pyver=$("$python" -c 'import sys;print("%d.%d"%sys.version_info[:2])')
digest=$( { sha256sum "$tarball" | cut -d' ' -f1; echo "$pyver"; } | sha256sum | cut -c1-12)
cache=${NBREWIND_CACHE_DIR:-$HOME/.cache/nbrewind-engine}
prefix="$cache/cctools-$digest"
# poncho (cctools' library packaging) imports conda_pack and threadpoolctl unconditionally, so
# Manager.create_library_from_functions (FunctionCall) needs them even with add_env=False, where
# nothing is packed. Both are pure Python: installed beside ndcctools, pinned, once.
poncho_deps() {
  local site
  site=$(ls -d "$prefix"/lib/python3*/site-packages | head -1)
  [ -f "$prefix/.nbrewind-poncho-deps" ] && return 0
  echo "[taskvine] installing conda-pack and threadpoolctl for poncho into $site" >&2
  "$python" -m pip install -q --disable-pip-version-check --no-deps --target "$site" conda-pack==0.9.2 threadpoolctl==3.8.0 >&2
  touch "$prefix/.nbrewind-poncho-deps"
}
if [ -f "$prefix/.nbrewind-built" ] && [ -f "$prefix/.nbrewind-poncho-deps" ]; then echo "$prefix"; exit 0; fi
mkdir -p "$cache"
exec 9>"$cache/cctools-$digest.lock"
flock 9
if [ -f "$prefix/.nbrewind-built" ]; then poncho_deps; echo "$prefix"; exit 0; fi

need=()
for pkg in swig zlib1g-dev libssl-dev python3-dev make gcc g++; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "taskvine: the build needs ${need[*]} (apt-get install them as root)" >&2; exit 2; }
  echo "[taskvine] installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }
fi

work=$(mktemp -d "$cache/cctools-build-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "[taskvine] building cctools from $(basename "$tarball") into $prefix (once per machine; several minutes)" >&2
tar -xzf "$tarball" -C "$work"
src=$(ls -d "$work"/cctools-*/ | head -1)
# Built in place (cctools writes its prefix into scripts and modules); the marker file says it is whole,
# and a folder without it, left by a build that died, is removed first.
rm -rf "$prefix"
stage="$prefix"
(
  cd "$src"
  ./configure --prefix "$stage" --with-python3-path "$("$python" -c 'import sys;print(sys.base_prefix)')" >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; exit 1; }
  nice -n 10 make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; exit 1; }
  make install >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; exit 1; }
)
ls "$stage"/lib/python3*/site-packages/ndcctools/taskvine >/dev/null || { echo "taskvine: the build finished without ndcctools.taskvine" >&2; exit 1; }
touch "$prefix/.nbrewind-built"
poncho_deps
echo "$prefix"
