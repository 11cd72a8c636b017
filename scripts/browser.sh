#!/usr/bin/env bash
# A headless browser for the report's tests and bench: Debian's chromium,
# installed once (as root, through apt) when it is not there. Prints its path.
# NBREWIND_CHROMIUM names another Chromium/Chrome binary to use instead.
set -euo pipefail
if [ -n "${NBREWIND_CHROMIUM:-}" ]; then
  [ -x "$NBREWIND_CHROMIUM" ] || { echo "NBREWIND_CHROMIUM=$NBREWIND_CHROMIUM is not an executable" >&2; exit 2; }
  echo "$NBREWIND_CHROMIUM"; exit 0
fi
for name in chromium chromium-browser; do
  if path=$(command -v "$name" 2>/dev/null); then echo "$path"; exit 0; fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "no chromium found: install Debian's 'chromium' package, or set NBREWIND_CHROMIUM to a Chromium binary" >&2
  exit 2
fi
echo "[browser] installing Debian's chromium (once per machine)" >&2
export DEBIAN_FRONTEND=noninteractive
# A package list that is missing or stale is fetched first; a failure of either step is the caller's error to show.
apt-get install -y -q --no-install-recommends chromium >&2 2>/dev/null || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends chromium >&2; }
command -v chromium
