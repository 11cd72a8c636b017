"""Which names in the user namespace are the user's, and what changed between two looks.

Identity (``id``) is the runtime check behind the static analysis: a name the
analysis did not predict (``globals()['z'] = 5``, ``exec``, a ``%run``) still
shows up as added, removed or rebound.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# IPython's own names that are always present and never the user's data.
_ALWAYS_HIDDEN = frozenset({"In", "Out", "exit", "quit", "get_ipython"})
# IPython's output and input history (_, __, ___, _5, _i, _ii, _iii, _i5, _ih, _oh, _dh)
# and dunders (__builtins__, __name__, ...): machinery even when a cell names them.
_IPYTHON_MACHINERY = re.compile(r"^(_{1,3}|_\d+|_i{1,3}|_i\d+|_ih|_oh|_dh|__\w+__)$")

Snapshot = dict[str, int]


class Namespace:
    def __init__(self, user_ns: dict[str, Any], user_ns_hidden: Mapping[str, Any] | None) -> None:
        self.ns = user_ns
        self.hidden = user_ns_hidden if user_ns_hidden is not None else {}

    def _is_ipython_hidden(self, name: str, value: Any) -> bool:
        # Like %who: a name IPython put there is hidden until the user rebinds it.
        return name in _ALWAYS_HIDDEN or (name in self.hidden and self.hidden[name] is value)

    def is_visible(self, name: str) -> bool:
        """A name the runtime net watches: the user's, and not underscore-prefixed."""
        return name in self.ns and not name.startswith("_") and not self._is_ipython_hidden(name, self.ns[name])

    def is_examinable(self, name: str) -> bool:
        """A name a cell's static facts may ask about: also ``_private`` ones, never IPython's machinery."""
        if name not in self.ns or _IPYTHON_MACHINERY.match(name):
            return False
        return not self._is_ipython_hidden(name, self.ns[name])

    def snapshot(self) -> Snapshot:
        return {name: id(value) for name, value in list(self.ns.items()) if self.is_visible(name)}

    def visible_names(self) -> list[str]:
        return [name for name in list(self.ns) if self.is_visible(name)]

    @staticmethod
    def changed(before: Snapshot, after: Snapshot) -> set[str]:
        """Names added, removed or rebound (identity changed)."""
        names: set[str] = set(before.keys() ^ after.keys())
        names.update(n for n in before.keys() & after.keys() if before[n] != after[n])
        return names

    def get(self, name: str) -> Any:
        return self.ns[name]

    def put(self, name: str, value: Any) -> None:
        self.ns[name] = value


def unique(names: Iterable[str]) -> list[str]:
    return sorted(set(names))
