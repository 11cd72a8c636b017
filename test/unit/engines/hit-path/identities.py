"""A function's identity is kept between submissions only while it provably still holds:
every change a key must see (a global rebound, a helper redefined, a default or keyword
default changed, a closure cell rebound, a list it reads mutated) gives a new key, and an
unchanged function is not hashed again. Prints one JSON object."""

from __future__ import annotations

import json
from typing import Any

import common  # noqa: F401 - puts the engines on the path

from nbrewind.tasks.keys import Keyer

hashed = [0]
_identity = Keyer._function_identity


def counting(self: Keyer, fn: Any) -> str:
    hashed[0] += 1
    return _identity(self, fn)


Keyer._function_identity = counting  # type: ignore[method-assign]


def key(fn: Any) -> str:
    """As Parsl and Ray key each call: a new keyer per submission."""
    return Keyer().task_key("parsl", fn, [], {})


N = 3


def helper(x: int) -> int:
    return x + N


def f(x: int, *, scale: int = 2) -> int:
    return helper(x) * scale


out: dict[str, Any] = {}
k1 = key(f)
before = hashed[0]
out["unchanged_not_hashed_again"] = key(f) == k1 and hashed[0] == before
N = 4
out["global_rebound"] = key(f) != k1
N = 3
out["global_back"] = key(f) == k1


def helper(x: int) -> int:  # noqa: F811 - the user redefines a helper
    return x + N + 0


out["helper_redefined"] = key(f) != k1
k2 = key(f)
f.__kwdefaults__["scale"] = 3
out["kwdefault_changed_in_place"] = key(f) != k2
f.__defaults__ = (1,)
k3 = key(f)
f.__defaults__ = (2,)
out["defaults_changed"] = key(f) != k3
L = [1]


def g() -> int:
    return L[0]


a = key(g)
L[0] = 2
out["list_mutated"] = key(g) != a


def make() -> tuple[Any, Any]:
    v = 1

    def inner() -> int:
        return v

    def set_v(n: int) -> None:
        nonlocal v
        v = n

    return inner, set_v


inner, set_v = make()
a = key(inner)
set_v(5)
out["closure_rebound"] = key(inner) != a


def r(n: int) -> int:
    return r(n - 1) if n else 0


a = key(r)
out["recursive_stable"] = key(r) == a
print(json.dumps(out))
