"""The kernel's environment as recorded in a bundle: what a replay must reproduce."""

from __future__ import annotations

import email
import email.message
import importlib.metadata
import platform
import socket
import sys
from typing import Any

ENGINES = ("dask", "distributed", "parsl", "ray")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _metadata_headers(dist: importlib.metadata.Distribution) -> email.message.Message | None:
    """The header block of a distribution's metadata, parsed as ``dist.metadata`` parses it.

    ``dist.metadata`` parses the whole file, long description included, and
    ``dist.version`` parses it again: for ~120 packages that was ~0.1 s of the
    kernel's CPU on every audit and repeat. The fields read here (Name,
    Version) are headers, and headers end at the first blank line.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or dist.read_text("")
    if not text:
        return None
    return email.message_from_string(text.split("\n\n", 1)[0])


def installed_packages() -> dict[str, str]:
    """Every installed distribution; when one is installed twice, the one sys.path finds first wins."""
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        headers = _metadata_headers(dist)
        if headers is None:
            continue
        name = headers.get("Name")
        if name and name not in packages:
            packages[name] = headers.get("Version")
    return dict(sorted(packages.items(), key=lambda kv: kv[0].lower()))


def describe_environment() -> dict[str, Any]:
    uname = platform.uname()
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {"system": uname.system, "release": uname.release, "machine": uname.machine},
        "hostname": socket.gethostname(),
        "packages": installed_packages(),
        "engines": {name: _version(name) for name in ENGINES},
    }
