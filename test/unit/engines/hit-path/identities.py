"""A function's identity is kept between submissions only while it provably still holds:
every change a key must see (a global rebound, a helper redefined, a default or keyword
default changed, a closure cell rebound, a list it reads mutated) gives a new key, and an
unchanged function is not hashed again. Prints one JSON object."""

from __future__ import annotations

import json
import math
from typing import Any

import common  # noqa: F401 - puts the engines on the path

from nbrewind.tasks.keys import Keyer, Uncacheable

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

# The globals a function reads are the names it loads as globals, not every name in its
# code: ``math.floor`` and ``xs.count`` read the globals ``math`` and nothing else, so a
# global that happens to be called ``floor`` or ``count`` is no part of the key (in the
# physics case study ``np.histogram`` made every task depend on a Dask Delayed ``histogram``).
floor = [1]
count = [1]


def floors(x: float, xs: list[int]) -> int:
    return math.floor(x) + xs.count(1)


a = key(floors)
floor[0] = 2
count[0] = 2
out["attribute_names_not_globals"] = key(floors) == a
# ... while every global it does load counts, wherever the load is: a nested function, a
# comprehension or a class body (read by name).
M = 1
P = 1
Q = 1


def nested() -> int:
    class C:
        y = M

    return (lambda: P)() + [Q for _ in range(1)][0] + C.y + math.floor(0.5)


reads: dict[str, bool] = {}
for name in ("M", "P", "Q"):
    a = key(nested)
    globals()[name] += 1
    reads[name] = key(nested) != a

out["loads_in_nested_code_counted"] = reads


# Globals read by a computed name are not in the bytecode: such a function is never keyed,
# directly or through a helper it calls; a user's own global named `eval` is keyed as a value.
def by_eval() -> int:
    return eval("M") + 1


def by_globals() -> int:
    return globals()["M"] + 1


def by_exec() -> None:
    exec("print(M)")


def calls_dynamic() -> int:
    return by_globals() * 2


def uncacheable(fn: Any) -> str | None:
    try:
        key(fn)
    except Uncacheable as err:
        return err.reason
    return None


out["dynamic_reads_uncacheable"] = {fn.__name__: uncacheable(fn) for fn in (by_eval, by_globals, by_exec, calls_dynamic)}
print(json.dumps(out))
