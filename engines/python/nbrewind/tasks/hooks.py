"""Run a callback as soon as a module is imported (or now, if it already is).

Engine adapters patch their engine's submission points, but must not import
the engine themselves (importing Ray or Dask in every kernel would cost
seconds and could change the user's program). A ``sys.meta_path`` finder
wraps the loader of the named module so the callback runs right after the
module's own code.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import traceback
from collections.abc import Callable
from types import ModuleType
from typing import Any

_callbacks: dict[str, list[Callable[[ModuleType], None]]] = {}
_lock = threading.RLock()


def when_imported(name: str, callback: Callable[[ModuleType], None]) -> None:
    with _lock:
        module = sys.modules.get(name)
        if module is not None:
            _run(callback, module)
            return
        _callbacks.setdefault(name, []).append(callback)
        if not any(isinstance(f, _Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _Finder())


def _run(callback: Callable[[ModuleType], None], module: ModuleType) -> None:
    try:
        callback(module)
    except Exception:
        # A broken adapter must never break the user's import: the engine then runs unmemoized.
        traceback.print_exc()


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _callbacks:
            return None
        # Ask the other finders, then wrap whatever loader they found.
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader, fullname)
                return spec
        return None


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, name: str) -> None:
        self.inner = inner
        self.name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        # The module sees its real loader (some code inspects __loader__).
        module.__loader__ = self.inner
        if module.__spec__ is not None:
            module.__spec__.loader = self.inner
        self.inner.exec_module(module)
        with _lock:
            callbacks = _callbacks.pop(self.name, [])
        for callback in callbacks:
            _run(callback, module)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)
