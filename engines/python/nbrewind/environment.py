"""The kernel's environment as recorded in a bundle: what a replay must reproduce."""

from __future__ import annotations

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


def installed_packages() -> dict[str, str]:
    """Every installed distribution; when one is installed twice, the one sys.path finds first wins."""
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name") if dist.metadata else None
        if name and name not in packages:
            packages[name] = dist.version
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
