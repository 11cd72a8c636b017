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


class _RefusingPickler(cloudpickle.Pickler):  # type: ignore[misc, name-defined]
    """cloudpickle, stopping at the first engine-bound object it meets."""

    def reducer_override(self, obj: Any) -> Any:
        hit = _bound_class(type(obj))
        if hit is not None:
            raise EngineBound(EngineBinding(*hit, whole=False))
        return super().reducer_override(obj)


def binding_of(value: Any) -> EngineBinding | None:
    """The binding of a value that is itself an engine handle (not one it holds inside)."""
    hit = _bound_class(type(value))
    return EngineBinding(*hit, whole=True) if hit is not None else None


def dumps_refusing_engine_bound(value: Any, protocol: int, buffer_callback: Callable[[pickle.PickleBuffer], Any]) -> bytes:
    """``cloudpickle.dumps``, but raising :class:`EngineBound` for a value that holds an engine handle."""
    binding = binding_of(value)
    if binding is not None:  # the value itself: no need to start pickling
        raise EngineBound(binding)
    with io.BytesIO() as out:
        _RefusingPickler(out, protocol=protocol, buffer_callback=buffer_callback).dump(value)
        return out.getvalue()
