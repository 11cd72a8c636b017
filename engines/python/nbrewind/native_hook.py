"""The file observer's audit hook in C: built once per machine and Python, else the Python hook.

A Python audit hook is called for every audited event of the process, and
its call alone costs a cell that opens 10,000 small files 2-4% of its time;
collecting the paths brings it to ~9% (bench/README.md, "bench:files"). The
same hook in C (``native/audit_hook.c``) costs a fraction of that. The shim
travels as source (``shim_bootstrap.py``), so the C file is compiled here, in
the kernel's own file system, by the kernel's own Python: its headers, its C
compiler (``$CC``, else ``sysconfig``'s ``CC``), its extension suffix. The build goes to
``$XDG_CACHE_HOME/nbrewind-engine/native/<key>`` (``key``: the source and this
Python's version and ABI), once; later kernels load it.

Nothing depends on it: without a C compiler or Python's headers (a slim
container image, a worker on another host) the Python hook records the same
files, a little slower. A build that failed is not tried again for the same
key (the reason is kept next to it, and in ``status()``).
``NBREWIND_NATIVE_HOOK=0`` keeps the Python hook.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from types import ModuleType

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "audit_hook.c")
_MODULE = "_nbrewind_audit"
_BUILD_SECONDS = 120

# Why the Python hook is in use, once decided ("" while the C hook is): for `status()`.
_why_not: str | None = None
_loaded: ModuleType | None = None


def status() -> str:
    """``native`` or ``python (<why>)``: which hook this process would use."""
    if _loaded is not None:
        return "native"
    return f"python ({_why_not})" if _why_not else "python"


def load(build: bool) -> ModuleType | None:
    """The compiled hook module, or None (then the caller installs the Python hook).
    ``build``: compile it when no build exists yet (the kernel does; an engine's worker
    only loads what the kernel built, so that a pool of workers never compiles at once)."""
    global _loaded, _why_not
    if _loaded is not None:
        return _loaded
    if os.environ.get("NBREWIND_NATIVE_HOOK", "1") == "0":
        _why_not = "NBREWIND_NATIVE_HOOK=0"
        return None
    try:
        with open(_SOURCE, "rb") as f:
            source = f.read()
    except OSError:
        _why_not = "the C source was not shipped with this copy of the shim"
        return None
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    key = hashlib.sha256(b"\0".join([source, sys.version.encode(), suffix.encode(), platform.machine().encode()])).hexdigest()[:20]
    folder = os.path.join(_cache_dir(), "native", key)
    library = os.path.join(folder, _MODULE + suffix)
    failed = folder + ".failed"
    try:
        if not os.path.exists(library):
            if os.path.exists(failed):
                with open(failed, encoding="utf-8") as f:
                    _why_not = f"an earlier build failed ({failed}): " + f.read().strip().splitlines()[0][:200]
                return None
            if not build:
                _why_not = "not built yet on this machine (a kernel builds it)"
                return None
            problem = _missing_tools()  # cheap to ask again: not remembered, so installing them later helps
            if problem is not None:
                _why_not = problem
                return None
            problem = _build(source, suffix, folder, library)
            if problem is not None:
                _why_not = problem
                _remember_failure(failed, problem)
                return None
        try:
            _loaded = _import(library)
        except ImportError as err:
            if build:  # a library that does not load must not be kept: the next kernel would not build
                shutil.rmtree(folder, ignore_errors=True)
                _remember_failure(failed, f"the build does not load: {err}")
            raise
        return _loaded
    except Exception as err:  # noqa: BLE001 - any failure here only costs speed: the Python hook records the same
        _why_not = f"{type(err).__name__}: {err}"[:300]
        return None


def _cache_dir() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "nbrewind-engine")


def _compiler() -> list[str] | None:
    # $CC first, as setuptools does: the user's choice of compiler.
    words = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "") or ["cc"]
    if shutil.which(words[0]) is None:
        words = ["cc"]
    return words if shutil.which(words[0]) is not None else None


def _missing_tools() -> str | None:
    if _compiler() is None:
        return "no C compiler ($CC, sysconfig's CC, or cc)"
    include = sysconfig.get_paths().get("include") or ""
    if not os.path.exists(os.path.join(include, "Python.h")):
        return f"no Python.h in {include or 'this Python'} (Python's headers are not installed)"
    return None


def _build(source: bytes, suffix: str, folder: str, library: str) -> str | None:
    """Compile into a staging folder and rename it into place (kernels starting together
    each build their own; the first rename wins). Returns why it failed, or None."""
    cc = _compiler() or ["cc"]
    include = sysconfig.get_paths().get("include") or ""
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=parent)
    try:
        src = os.path.join(staging, "audit_hook.c")
        with open(src, "wb") as f:
            f.write(source)
        out = os.path.join(staging, _MODULE + suffix)
        cmd = [*cc, "-shared", "-fPIC", "-O2", "-I", include, src, "-o", out]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=_BUILD_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"{' '.join(cmd[:1])}: {err}"
        if done.returncode != 0:
            return f"{cmd[0]} exited {done.returncode}: " + (done.stderr.strip().splitlines() or [""])[-1][:200]
        try:
            os.rename(staging, folder)
        except OSError:
            if not os.path.exists(library):  # not another kernel's build winning the race
                raise
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _import(path: str) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader(_MODULE, path)
    spec = importlib.util.spec_from_file_location(_MODULE, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _remember_failure(failed: str, problem: str) -> None:
    try:
        with open(failed, "w", encoding="utf-8") as f:
            f.write(problem + "\n")
    except OSError:
        pass
