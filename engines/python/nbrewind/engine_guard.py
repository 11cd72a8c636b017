"""Which engine versions the adapters memoize, and the guard that turns an adapter off.

An adapter patches its engine's internals, which change between releases. The
rule is that nbrewind never breaks a notebook that runs without it, so each
engine has one ``EngineGuard``:

* when the engine is imported, ``guard.install(patch)`` reads the installed
  versions and patches only inside the declared range (engine_support.json
  beside this file); outside it the engine is left untouched;
* an adapter entry point that fails unexpectedly (not ``Uncacheable``: a
  changed internal, a bug of ours) calls ``guard.failed(...)``, forgets what it
  recorded for that submission and hands the submission to the engine's own
  code; from then on every entry point passes straight through.

Either way the engine runs unmemoized, cell checkpoints go on working, and
the reason travels in every post_cell reply (``adapters``), which the driver
turns into one warning on its stderr and the run summary's
``engines[].status``. Nothing is printed here: ipykernel captures the
process's stderr into the running cell's outputs, which must stay the user's.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

SUPPORT_FILE = "engine_support.json"
_support: dict[str, Any] | None = None
T = TypeVar("T")


def support() -> dict[str, Any]:
    """engine_support.json, beside this module (the driver ships both to the kernel)."""
    global _support
    if _support is None:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), SUPPORT_FILE), encoding="utf-8") as f:
            _support = json.load(f)
    return _support


def version_tuple(version: str) -> tuple[int, ...]:
    """'2024.12.1' -> (2024, 12, 1); '2.40.0rc1' -> (2, 40, 0). Enough for release numbers
    (calendar or semantic) without depending on ``packaging`` in the user's environment."""
    parts: list[int] = []
    for piece in version.split("."):
        m = re.match(r"\d+", piece)
        if m is None:
            break
        parts.append(int(m.group()))
        if m.end() != len(piece):
            break
    while parts and parts[-1] == 0:
        parts.pop()  # 2.40 == 2.40.0
    return tuple(parts)


def range_text(bounds: dict[str, Any]) -> str:
    low, high = bounds.get("min"), bounds.get("below")
    return f">={low}" + (f",<{high}" if high else "")


def check_versions(requires: dict[str, dict[str, Any]], installed: dict[str, str | None], optional: tuple[str, ...] = ()) -> str | None:
    """None when every required distribution is installed in its range, else why not."""
    for name, bounds in requires.items():
        have = installed.get(name)
        if have is None:
            if name in optional:
                continue
            return f"{name} is not installed"
        v = version_tuple(have)
        if v < version_tuple(bounds["min"]) or (bounds.get("below") and v >= version_tuple(bounds["below"])):
            return f"{name} {have} is outside the supported range {range_text(bounds)}"
    return None


def _installed(names: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


class EngineGuard:
    """The state of one engine's adapter: not imported yet, memoized, or unmemoized (and why)."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.status = "not-imported"
        self.reason: str | None = None
        self.versions: dict[str, str | None] = {}
        self._lock = threading.Lock()

    @property
    def on(self) -> bool:
        """Whether the adapter may intercept: patched, and nothing failed since."""
        return self.status == "memoized"

    def install(self, patch: Callable[[ModuleType], None]) -> Callable[[ModuleType], None]:
        """A ``when_imported`` callback: check the versions, then patch; a patch that raises
        leaves the engine unmemoized (what it patched passes through, see ``on``)."""

        def callback(module: ModuleType) -> None:
            spec = support()["engines"][self.engine]
            if self.status == "not-imported":
                self.versions = _installed(spec["requires"])
                problem = check_versions(spec["requires"], self.versions, tuple(spec.get("optional", ())))
                if problem is not None:
                    self.disable(problem)
                    return
                self.status = "memoized"
            if not self.on:
                return
            try:
                patch(module)
            except Exception as err:  # noqa: BLE001 - a changed internal: run the engine as it is
                self.failed(f"patching {module.__name__}", err)

        return callback

    def disable(self, reason: str) -> None:
        """Turn the adapter off for the rest of this kernel's life (reported, see ``reports``)."""
        with self._lock:
            if self.status == "unmemoized":
                return
            self.status = "unmemoized"
            self.reason = reason

    def failed(self, what: str, err: BaseException) -> None:
        """An adapter entry point raised where it should not have: the adapter goes off."""
        where = traceback.extract_tb(err.__traceback__)[-1:] if err.__traceback__ else []
        at = f" at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno}" if where else ""
        self.disable(f"{what} failed ({type(err).__name__}: {err}{at}); nbrewind-engine {_version()} does not handle this {self.engine} version")

    @contextmanager
    def attempt(self, what: str, rt: Any) -> Iterator[list[bool]]:
        """Run an adapter's bookkeeping for one submission. When it raises anything but
        ``Uncacheable``, what it recorded is forgotten and ``ok[0]`` is False: the caller
        then submits as the engine would without us. ``Uncacheable`` is the adapter's own
        business (an uncached task, with its reason) and propagates."""
        mark = rt.mark() if rt is not None else None
        ok = [True]
        try:
            yield ok
        except Exception as err:  # noqa: BLE001 - see the docstring
            self._gave_up(what, rt, mark, err)
            ok[0] = False

    def call(self, what: str, rt: Any, fn: Callable[..., T], *args: Any) -> T | None:
        """``attempt`` for one call, without a generator's set-up: what an adapter does once
        per submitted task (Parsl), where a context manager costs as much as the bookkeeping
        it guards. None when ``fn`` failed (the caller submits as the engine would)."""
        mark = rt.mark() if rt is not None else None
        try:
            return fn(*args)
        except Exception as err:  # noqa: BLE001 - see attempt
            self._gave_up(what, rt, mark, err)
            return None

    def _gave_up(self, what: str, rt: Any, mark: int | None, err: Exception) -> None:
        """An adapter's bookkeeping raised: ``Uncacheable`` propagates (re-raised here); anything
        else forgets what it recorded since ``mark`` and turns the adapter off."""
        from .tasks.keys import Uncacheable

        if isinstance(err, Uncacheable):
            raise err
        if rt is not None and mark is not None:
            rt.forget_since(mark)
        self.failed(what, err)

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"engine": self.engine, "status": self.status, "versions": {k: v for k, v in self.versions.items() if v is not None}}
        if self.reason:
            out["reason"] = self.reason
        return out


def _version() -> str:
    from . import __version__

    return __version__


_guards: dict[str, EngineGuard] = {}


def guard(engine: str) -> EngineGuard:
    """The one guard of an engine in this kernel."""
    g = _guards.get(engine)
    if g is None:
        g = _guards.setdefault(engine, EngineGuard(engine))
    return g


def reports() -> list[dict[str, Any]]:
    """Every engine imported so far, with its adapter's status (the post_cell ``adapters``)."""
    return [g.report() for g in sorted(_guards.values(), key=lambda g: g.engine) if g.status != "not-imported"]
