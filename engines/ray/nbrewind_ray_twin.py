"""The persisting twin of a Ray remote function, and the function identity it ships.

Ray pickles a remote function once per cluster and job, at its first
submission, and its workers run that snapshot from then on: a global the
function reads, rebound later in the notebook, does not reach the workers.
The twin follows the same rule, and makes it exact for keys: when it is made,
the user's function is pickled once and its identity is computed at the same
moment, so the identity names exactly the code and globals the workers run.

On a worker the twin runs ``run_and_persist(fn, spec, *args, **kwargs)``: the
user's function, then its result written straight into the store. Both travel
by value (the twin is a closure, the runner a ``Shipped`` function): workers
need neither nbrewind nor this adapter on their path.
"""

from __future__ import annotations

import inspect
import weakref
from dataclasses import dataclass
from typing import Any

from nbrewind.tasks.keys import Keyer, Uncacheable

SPEC_PARAMETER = "_nbrewind_spec"


@dataclass
class Twin:
    identity: str | Uncacheable
    # The persisting remote function; None until a task misses (hits never need it).
    remote: Any = None
    payload: bytes | None = None


# remote function -> (the Ray cluster and job it was snapshot for, its twin)
_twins: weakref.WeakKeyDictionary[Any, tuple[Any, Twin]] = weakref.WeakKeyDictionary()


def twin_of(ray: Any, rf: Any, keyer: Keyer) -> Twin:
    """The twin of ``rf`` for the current Ray job: made (function snapshot and identity) at first use."""
    job = ray._private.worker.global_worker.current_cluster_and_job
    known = _twins.get(rf)
    if known is not None and known[0] == job:
        return known[1]
    fn = rf._function
    try:
        identity: str | Uncacheable = keyer.function_identity(fn)
    except Uncacheable as err:
        identity = err
    twin = Twin(identity)
    if isinstance(identity, str):
        # The snapshot the workers will run, taken with the identity: nothing can change in between.
        twin.payload = ray.cloudpickle.dumps(fn)
    _twins[rf] = (job, twin)
    return twin


def persisting_remote(ray: Any, rf: Any, twin: Twin, run_and_persist: Any) -> Any:
    """The remote function that runs ``twin``'s snapshot and persists its result (made once
    per job; ``run_and_persist`` is the core's runner, by reference or by value as the probe found)."""
    if twin.remote is None:
        assert twin.payload is not None
        fn = rf._function
        task = _persisting_task(twin.payload, run_and_persist)
        task.__name__ = getattr(fn, "__name__", "task")
        # Not the user's qualified name: cloudpickle would then look for it in our module.
        task.__qualname__ = f"{getattr(fn, '__qualname__', task.__name__)}[nbrewind]"
        remote = ray.remote_function.RemoteFunction(ray.Language.PYTHON, task, None, dict(rf._default_options))
        remote._nbrewind_twin = True
        # Ray checks the call's arguments against this signature at submission: keep the user's,
        # behind the spec. (Set here, Ray skips reading the twin's own (spec, *args, **kwargs).)
        spec = inspect.Parameter(SPEC_PARAMETER, inspect.Parameter.POSITIONAL_ONLY)
        remote._function_signature = [spec, *inspect.signature(fn).parameters.values()]
        twin.remote = remote
    return twin.remote


def forget() -> None:
    """After ``ray.shutdown``: the next job snapshots every function again."""
    _twins.clear()


def _persisting_task(payload: bytes, runner: Any) -> Any:
    loaded: list[Any] = []

    def task(spec: Any, /, *args: Any, **kwargs: Any) -> Any:
        if not loaded:  # once per worker process
            import pickle

            loaded.append(pickle.loads(payload))
        return runner(loaded[0], spec, *args, **kwargs)

    return task
