"""Pins: a declared version stands in for a task function's code identity.

A pipeline author pins a task function (in nbrewind.yaml, or with the
``@pin(version=...)`` decorator) so that reformatting it, or editing a helper
it calls, does not make its expensive tasks run again; bumping the version
does. The pinned task's key is H(engine, "pinned", qualified name, version,
argument keys): arguments are still keyed as usual. Pins are an explicit,
visible exception to content keys: every pinned task's record carries its pin
and the code identity it had, so the TypeScript side can say when the code
changed under a pin ("bump the version to recompute").

Config pins (from nbrewind.yaml, sent by the client) take precedence over a
decorator: the project file is where an author overrides code.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_ATTR = "__nbrewind_pin__"


@dataclass(frozen=True)
class PinRule:
    function: str  # a glob on module.qualname
    version: str
    cells: frozenset[str] | None  # the cell ids it is limited to (a cell selector resolved by the client)
    selector: str  # as the author wrote it, for records and messages
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Pin:
    version: str
    by: str  # "nbrewind.yaml: <selector>" or "decorator"


_rules: list[PinRule] = []
_current_cell: Callable[[], str | None] = lambda: None
# Pinned task key -> what its record says about the pin (kept until the client is told).
_notes: dict[str, dict[str, Any]] = {}
_notes_lock = threading.Lock()


def pin(version: str) -> Callable[[Any], Any]:
    """Decorator: key this function's tasks by ``version`` instead of its code.

        from nbrewind import pin

        @pin(version="v3")
        def skim(path): ...

    Works under or over an engine's own decorator (``@dask.delayed``,
    ``@python_app``, ``@ray.remote``): the mark is put on the function and on
    the function the engine wraps.
    """
    if not isinstance(version, str) or not version:
        raise ValueError(f"pin(version=...) needs a non-empty string, got {version!r}")

    def mark(obj: Any) -> Any:
        for target in (obj, getattr(obj, "func", None), getattr(obj, "_function", None), getattr(obj, "__wrapped__", None)):
            if target is not None:
                try:
                    setattr(target, _ATTR, version)
                except (AttributeError, TypeError):
                    pass
        return obj

    return mark


def configure(rules: list[dict[str, Any]], current_cell: Callable[[], str | None]) -> int:
    """Set the config pins (``function``, ``version``, optional ``cells``, ``selector``)."""
    global _rules, _current_cell
    parsed = []
    for r in rules:
        cells = r.get("cells")
        parsed.append(
            PinRule(r["function"], r["version"], frozenset(cells) if cells is not None else None, r.get("selector") or r["function"], re.compile(fnmatch.translate(r["function"])))
        )
    _rules = parsed
    _current_cell = current_cell
    return len(_rules)


def _unwrapped(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__func__", fn)


def matches(rule: PinRule, name: str) -> bool:
    """A glob matches the qualified name, or for notebook functions the name without ``__main__.``."""
    return bool(rule.pattern.match(name) or (name.startswith("__main__.") and rule.pattern.match(name[9:])))


def pin_for(fn: Any, name: str) -> Pin | None:
    """The pin that applies to a task of ``fn`` (``name`` is its module.qualname), if any."""
    if _rules:
        cell = _current_cell()
        for rule in _rules:
            if matches(rule, name) and (rule.cells is None or cell in rule.cells):
                return Pin(rule.version, f"nbrewind.yaml: {rule.selector}")
    version = getattr(_unwrapped(fn), _ATTR, None)
    if isinstance(version, str):
        return Pin(version, "decorator")
    return None


def remember(key: str, p: Pin, code: str | None) -> None:
    with _notes_lock:
        _notes[key] = {"version": p.version, "by": p.by, "code": code}


def annotate(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add to each pinned task's record its pin (version, where it comes from, the code identity)."""
    if not _notes:
        return tasks
    with _notes_lock:
        for t in tasks:
            note = _notes.get(t.get("key") or "")
            if note is not None:
                t["pin"] = dict(note)
    return tasks
