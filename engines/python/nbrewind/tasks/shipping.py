"""Getting the worker-side functions (``worker.py``) onto the engine's workers.

Two ways, chosen by the adapter per engine runtime:

* **by reference** (``RUNNERS_BY_REFERENCE``): the plain functions of
  ``nbrewind.tasks.worker``. Pickled as a module reference, a few dozen bytes
  per task. Right when the workers can import the same nbrewind: threads and
  sync schedulers (this process), process pools and LocalCluster workers
  (spawned children inherit this kernel's ``sys.path``), or workers whose
  import the adapter checked with ``probe``.
* **by value** (``RUNNERS_BY_VALUE``): ``Shipped`` wrappers. Pickled, each
  becomes ``pickle.loads(<cloudpickle of the function by value>)``, so a
  worker rebuilds it from code without importing nbrewind (a remote
  dask-worker, DaskVine, a Parsl pilot). A rebuilt function that is pickled
  again (a scheduler forwarding the task) is pickled by value by cloudpickle,
  which works because the modules it reaches hold only picklable globals.
  Costs ~20 KB per pickled message: the fallback, not the default.
"""

from __future__ import annotations

import pickle
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import cloudpickle

from .. import blob_store, file_observer, protocol, serialise
from . import store_policy, worker

# Everything worker.py reaches: pickled by value, not by a module reference the worker lacks.
_BY_VALUE: tuple[types.ModuleType, ...] = (worker, store_policy, blob_store, serialise, protocol, file_observer)


class Shipped:
    """Callable like ``fn`` here; pickled, it carries ``fn``'s code by value.

    ``by_value``: more modules whose code ``fn`` reaches and the workers lack (an
    adapter's own worker module), pickled by value along with the core's;
    ``core=False``: those alone (a function that reaches none of the core).
    """

    __slots__ = ("fn", "modules", "_payload")

    def __init__(self, fn: Callable[..., Any], by_value: tuple[types.ModuleType, ...] = (), core: bool = True) -> None:
        self.fn = fn
        self.modules = (*by_value, *_BY_VALUE) if core else by_value
        self._payload: bytes | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def payload(self) -> bytes:
        if self._payload is None:
            registered = []
            try:
                for module in self.modules:
                    if module.__name__ not in cloudpickle.list_registry_pickle_by_value():
                        cloudpickle.register_pickle_by_value(module)
                        registered.append(module)
                self._payload = cloudpickle.dumps(self.fn, protocol=5)
            finally:
                # Only for this one dump: the user's own pickling is left as it was.
                for module in registered:
                    cloudpickle.unregister_pickle_by_value(module)
        return self._payload

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (pickle.loads, (self.payload(),))

    def __repr__(self) -> str:
        return f"nbrewind:{getattr(self.fn, '__name__', 'fn')}"


class Runners(NamedTuple):
    """The worker-side functions an adapter puts into the tasks it rewrites."""

    run_and_persist: Callable[..., Any]
    load_result: Callable[..., Any]
    probe: Callable[..., Any]


RUNNERS_BY_REFERENCE = Runners(worker.run_and_persist, worker.load_result, worker.probe)
RUNNERS_BY_VALUE = Runners(Shipped(worker.run_and_persist), Shipped(worker.load_result), Shipped(worker.probe))


def runners(by_value: bool) -> Runners:
    return RUNNERS_BY_VALUE if by_value else RUNNERS_BY_REFERENCE
