#!/usr/bin/env bash
# A Docker-compatible container engine for `replay --container`, on a machine
# that has none: Podman's API service on a socket this project owns, and the
# local base image (a Debian rootfs with python3, built with mmdebstrap from
# the machine's Debian package sources, so no image registry is needed).
# Idempotent: whatever is already there is reused.
#
#   bash scripts/container-engine.sh [up]   install podman + runc + mmdebstrap if missing (root, apt),
#                                           write our containers.conf, start the API service if it
#                                           does not answer, build the base image if it is missing;
#                                           prints DOCKER_HOST=, BASE_IMAGE= and SERVICE=started|running
#   bash scripts/container-engine.sh stop   stop the service this script started (and its containers)
#   bash scripts/container-engine.sh status print what is there, change nothing
#
# Everything lives in $NBREWIND_PODMAN_DIR (default
# ${XDG_CACHE_HOME:-~/.cache}/nbrewind-engine/podman): containers.conf, the
# socket podman.sock, service.pid, service.log. Podman's image store is the
# system's (root) or the user's (rootless) as usual.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${NBREWIND_PODMAN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nbrewind-engine/podman}
sock="$dir/podman.sock"
conf="$dir/containers.conf"
recipe="$root/containers/base-image.conf"
base_tag="nbrewind-base:$(sha256sum "$recipe" | cut -c1-12)"

say() { echo "[container-engine] $*" >&2; }
die() { echo "[container-engine] error: $*" >&2; exit 3; }

podman_() { CONTAINERS_CONF="$conf" podman "$@"; }
answers() { [ -S "$sock" ] && podman --remote --url "unix://$sock" version >/dev/null 2>&1; }

ensure_tools() {
  local missing=()
  for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "missing ${missing[*]}: install podman, runc and mmdebstrap (Debian/Ubuntu: sudo apt-get install podman runc mmdebstrap uidmap), or set DOCKER_HOST to an engine you have"
  fi
  say "installing podman, runc, mmdebstrap (apt-get; once per machine)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc mmdebstrap uidmap conmon containernetworking-plugins >&2 \
    || die "apt-get could not install podman runc mmdebstrap"
}

# runc instead of crun, and explicit ulimits: the combination that works in
# sandboxed VMs where crun or the inherited limits make containers fail.
write_conf() {
  mkdir -p "$dir"
  local want
  want=$(printf '%s\n' '# Written by nbrewind-engine scripts/container-engine.sh; used through CONTAINERS_CONF.' \
    '[containers]' 'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]' '[engine]' 'runtime = "runc"')
  if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then printf '%s\n' "$want" >"$conf"; fi
}

start_service() {
  if answers; then echo "SERVICE=running"; return; fi
  rm -f "$sock"
  say "starting podman's API service on unix://$sock"
  # setsid: the service outlives this script (the caller stops it with 'stop').
  CONTAINERS_CONF="$conf" setsid podman system service --time=0 "unix://$sock" >"$dir/service.log" 2>&1 </dev/null 9>&- &
  echo $! >"$dir/service.pid"
  for _ in $(seq 1 100); do
    answers && { echo "SERVICE=started"; return; }
    kill -0 "$(cat "$dir/service.pid")" 2>/dev/null || break
    sleep 0.2
  done
  tail -n 20 "$dir/service.log" >&2 || true
  die "podman's API service did not answer on $sock (log above: $dir/service.log)"
}

build_base_image() {
  if podman_ image exists "$base_tag"; then return; fi
  # shellcheck disable=SC1090
  . "$recipe"
  local tar="$dir/base-rootfs.tar" mode=()
  [ "$(id -u)" = 0 ] || mode=(--mode=unshare)
  say "building the base image $base_tag: Debian $SUITE ($VARIANT) with $PACKAGES (once; about a minute)"
  rm -f "$tar"
  # No mirror given: mmdebstrap uses the Debian sources this machine reaches.
  mmdebstrap "${mode[@]}" --variant="$VARIANT" --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$SUITE" "$tar" </dev/null >"$dir/mmdebstrap.log" 2>&1 \
    || { tail -n 20 "$dir/mmdebstrap.log" >&2; die "mmdebstrap could not build the Debian rootfs (log: $dir/mmdebstrap.log)"; }
  podman_ import --change 'CMD ["/bin/sh"]' --change "LABEL nbrewind.base-recipe=$(sha256sum "$recipe" | cut -c1-64)" "$tar" "$base_tag" >/dev/null \
    || die "podman import of $tar failed"
  rm -f "$tar"
}

up() {
  ensure_tools
  write_conf
  exec 9>"$dir/up.lock"
  flock 9 # two callers at once (parallel test runs): one builds, the other waits and reuses
  start_service
  build_base_image
  echo "BASE_IMAGE=$base_tag"
  echo "DOCKER_HOST=unix://$sock"
}

stop() {
  local pid
  pid=$(cat "$dir/service.pid" 2>/dev/null || true)
  if answers; then
    # Containers of replays that were killed before they could clean up.
    for id in $(podman --remote --url "unix://$sock" ps -aq --filter label=nbrewind.replay 2>/dev/null); do
      podman --remote --url "unix://$sock" rm -f "$id" >/dev/null 2>&1 || true
    done
  fi
  if [ -n "$pid" ] && grep -qa "system" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped podman's API service (pid $pid)"
  fi
  rm -f "$dir/service.pid" "$sock"
}

status() {
  for tool in podman runc mmdebstrap; do echo "$tool: $(command -v "$tool" || echo missing)"; done
  if answers; then echo "service: answering on unix://$sock"; else echo "service: not answering on unix://$sock"; fi
  if command -v podman >/dev/null && podman_ image exists "$base_tag" 2>/dev/null; then echo "base image: $base_tag"; else echo "base image: $base_tag missing"; fi
}

case "${1:-up}" in
  up) up ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 [up|stop|status]" ;;
esac
