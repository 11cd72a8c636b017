"""Values bound to a live engine: futures, persisted collections, object refs.

A Dask ``Future`` (and a collection persisted on a cluster, whose graph is
made of them), a Ray ``ObjectRef`` and a Parsl ``AppFuture``/``DataFuture``
name a result that lives in a running engine. Most of them pickle without
complaint (a Dask future pickles as its key, an ObjectRef as its id), and
come back as handles to a cluster that no longer holds them: ``Missing
dependency``, ``lost dependencies``, ``owner is unknown``, or a status of
``None`` where the live future says ``finished``. So they are never stored as
data: the cell that made them runs again, with its tasks served from the
task cache, and recreates them bound to the engine of this run.

They are found where pickling meets them, anywhere inside the value (a list
of futures, a dict of refs, a persisted ``dask.array``, an object holding
one): the pickler calls ``reducer_override`` for every object that is not a
builtin scalar or container, and we stop at the first engine-bound one. This
never imports an engine: classes are recognised by module and name.
"""

from __future__ import annotations

import io
import pickle
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cloudpickle

# (module, qualname) of a class anywhere in the MRO -> (engine, label).
_BOUND: dict[tuple[str, str], tuple[str, str]] = {
    ("distributed.client", "Future"): ("dask", "dask.distributed.Future"),
    ("ray", "ObjectRef"): ("ray", "ray.ObjectRef"),
    ("ray._raylet", "ObjectRef"): ("ray", "ray.ObjectRef"),
    ("ray", "ObjectRefGenerator"): ("ray", "ray.ObjectRefGenerator"),
    ("ray._raylet", "ObjectRefGenerator"): ("ray", "ray.ObjectRefGenerator"),
    ("parsl.dataflow.futures", "AppFuture"): ("parsl", "parsl.AppFuture"),
    ("parsl.app.futures", "DataFuture"): ("parsl", "parsl.DataFuture"),
}

# What the handle is bound to, by engine: the runtime of the run that made it.
_RUNTIME = {"dask": "the Dask cluster", "ray": "the Ray session", "parsl": "the Parsl DataFlowKernel"}

_by_type: dict[type, tuple[str, str] | None] = {}


def _bound_class(t: type) -> tuple[str, str] | None:
    try:
        return _by_type[t]
    except KeyError:
        pass
    hit = None
    for klass in t.__mro__:
        hit = _BOUND.get((getattr(klass, "__module__", ""), getattr(klass, "__qualname__", "")))
        if hit:
            break
    _by_type[t] = hit
    return hit


@dataclass(frozen=True)
class EngineBinding:
    """What makes a value engine-bound: the engine, the handle, and whether the value is that handle or holds it."""

    engine: str
    holds: str
    whole: bool

    def reason(self, type_name: str) -> str:
        label = f"{_article(self.holds)} {self.holds}" if self.whole else f"{_article(type_name)} {type_name} holding {self.holds}(s)"
        return f"{label}, bound to {_RUNTIME.get(self.engine, 'the engine')} of the run that made it"


def _article(name: str) -> str:
    return "an" if name[:1].lower() in "aeiou" else "a"


class EngineBound(Exception):
    def __init__(self, binding: EngineBinding) -> None:
        super().__init__(binding.holds)
        self.binding = binding


# Top-level module -> engine family, for objects that reach an engine without being bound to
# a run of it: a lazy Dask collection (computed, it goes to the default client), a Ray remote
# function, a Parsl app, a client, an engine function or module referenced by a pickled function.
_ENGINE_MODULES = {"dask": "dask", "distributed": "dask", "ray": "ray", "parsl": "parsl"}
_family_by_type: dict[type, str | None] = {}


def _family_of_module(module: Any) -> str | None:
    return _ENGINE_MODULES.get(module.partition(".")[0]) if isinstance(module, str) else None


def _engine_family(obj: Any) -> str | None:
    """The engine whose object ``obj`` is: by its class's module, or, for a module, a class or
    a function (pickled by reference), by its own module."""
    t = type(obj)
    try:
        family = _family_by_type[t]
    except KeyError:
        family = _family_by_type[t] = _family_of_module(getattr(t, "__module__", None))
    if family is not None:
        return family
    if isinstance(obj, types.ModuleType):
        return _family_of_module(obj.__name__)
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
        return _family_of_module(getattr(obj, "__module__", None))
    return None


class _RefusingPickler(cloudpickle.Pickler):  # type: ignore[misc, name-defined]
    """cloudpickle, stopping at the first engine-bound object it meets, and noting in
    ``reaches`` the engines whose other objects it meets (see ``dumps_refusing_engine_bound``)."""

    def __init__(self, *args: Any, reaches: set[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reaches = reaches

    def reducer_override(self, obj: Any) -> Any:
        hit = _bound_class(type(obj))
        if hit is not None:
            raise EngineBound(EngineBinding(*hit, whole=False))
        if self.reaches is not None:
            family = _engine_family(obj)
            if family is not None:
                self.reaches.add(family)
        return super().reducer_override(obj)


def binding_of(value: Any) -> EngineBinding | None:
    """The binding of a value that is itself an engine handle (not one it holds inside)."""
    hit = _bound_class(type(value))
    return EngineBinding(*hit, whole=True) if hit is not None else None


def dumps_refusing_engine_bound(value: Any, protocol: int, buffer_callback: Callable[[pickle.PickleBuffer], Any], reaches: set[str] | None = None) -> bytes:
    """``cloudpickle.dumps``, but raising :class:`EngineBound` for a value that holds an engine handle.

    With ``reaches``, adds to it every engine family (dask, ray, parsl) an object inside the
    value belongs to. A value that reaches none is plain data: a cell reading it cannot
    submit work to an engine through it, which lets the planner leave a set-up cell alone.
    The pickler meets every object but exact ints, floats, strings, bytes and builtin
    containers, so nothing is missed that could reach an engine."""
    binding = binding_of(value)
    if binding is not None:  # the value itself: no need to start pickling
        raise EngineBound(binding)
    with io.BytesIO() as out:
        _RefusingPickler(out, protocol=protocol, buffer_callback=buffer_callback, reaches=reaches).dump(value)
        return out.getvalue()
