#!/bin/sh
# Runs inside the replay image build (see replay.Dockerfile): create the venv
# with exactly the recorded pins, from the wheels the host prepared, offline.
# $1 is the recorded Python version (for example 3.11.7).
set -eu
recorded="$1"
minor="${recorded%.*}"
py=$(command -v "python$minor" || command -v python3 || true)
if [ -z "$py" ]; then
  echo "nbrewind: the base image has no python3; the bundle was recorded with Python $recorded: choose a base image with Python $minor (--base-image)" >&2
  exit 1
fi
have=$("$py" -c 'import platform; print(platform.python_version())')
if [ "${have%.*}" != "$minor" ]; then
  echo "nbrewind: the base image has Python $have, the bundle was recorded with Python $recorded: choose a base image with Python $minor (--base-image)" >&2
  exit 1
fi
flags=""
if [ "$have" != "$recorded" ]; then
  # Same minor version, so the same ABI and the same wheels; only a package's
  # patch-level Requires-Python (">=3.11.5") could refuse it.
  echo "nbrewind: note: the image has Python $have, the bundle recorded $recorded (same minor version); installing the recorded pins regardless of patch-level Requires-Python"
  flags="--ignore-requires-python"
fi
"$py" -m venv /opt/nbrewind/venv || {
  echo "nbrewind: '$py -m venv' failed: the base image needs Python's venv module (Debian: python3-venv)" >&2
  exit 1
}
# shellcheck disable=SC2086
/opt/nbrewind/venv/bin/python -m pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check \
  --find-links /opt/nbrewind/wheels $flags -r /opt/nbrewind/requirements.txt
