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

The spec (store, dispatch id, store policy) does not travel with each call: an
extra argument costs Ray about as much again as the user's own call to
serialise and submit (~30 us of the kernel's time per task, measured with empty
tasks), which was most of the audit overhead. The twin is made per runtime
with the store and policy baked in, and names each call's dispatch by Ray's own
task id (the same on every retry of the call, as a dispatch must be), which the
kernel reads off the call's first ObjectRef. A nonce per twin keeps those ids
apart across Ray jobs: a new local cluster numbers its tasks afresh. A call
with no return (``num_returns=0``) has no ObjectRef to read: it gets the spec
as an argument, as before.
"""

from __future__ import annotations

import inspect
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from nbrewind.tasks.keys import Keyer, Uncacheable

SPEC_PARAMETER = "_nbrewind_spec"


# (store, dispatch prefix, store policy) baked into a twin; None: the spec comes with each call.
Context = tuple[str, str, Any] | None


@dataclass
class Twin:
    identity: str | Uncacheable
    # The persisting remote functions, by context; made when a task first misses (hits never need one).
    remotes: dict[Context, tuple[Any, str]] = field(default_factory=dict)
    payload: bytes | None = None
    # num_returns -> the identity with the function's name and result shape (nbrewind_ray._shaped_identity).
    shaped: dict[int, str] = field(default_factory=dict)


# remote function -> (the Ray cluster and job it was snapshot for, its twin)
_twins: weakref.WeakKeyDictionary[Any, tuple[Any, Twin]] = weakref.WeakKeyDictionary()


def twin_of(ray: Any, rf: Any, keyer: Keyer, job: Any) -> Twin:
    """The twin of ``rf`` for ``job`` (Ray's current cluster and job): made (function snapshot
    and identity) at first use."""
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


def persisting_remote(ray: Any, rf: Any, twin: Twin, run_and_persist: Any, context: Context) -> tuple[Any, str]:
    """The remote function that runs ``twin``'s snapshot and persists its result, and the prefix
    of its calls' dispatch ids (made once per job and context; ``run_and_persist`` is the core's
    runner, by reference or by value as the probe found).

    ``context``: (store, the runtime's session prefix, store policy), baked in: a call's dispatch
    id is then the returned prefix + its Ray task id (``dispatch_of``). None: each call passes
    the spec ``(store, key, dispatch, policy)`` as its first argument."""
    known = twin.remotes.get(context)
    if known is not None:
        return known
    assert twin.payload is not None
    fn = rf._function
    prefix = ""
    if context is not None:
        blobs_dir, session_prefix, policy = context
        prefix = f"{session_prefix}ray{uuid.uuid4().hex[:8]}-"
        task = _persisting_task(twin.payload, run_and_persist, (blobs_dir, prefix, policy))
    else:
        task = _persisting_task(twin.payload, run_and_persist, None)
    task.__name__ = getattr(fn, "__name__", "task")
    # Not the user's qualified name: cloudpickle would then look for it in our module.
    task.__qualname__ = f"{getattr(fn, '__qualname__', task.__name__)}[nbrewind]"
    remote = ray.remote_function.RemoteFunction(ray.Language.PYTHON, task, None, dict(rf._default_options))
    remote._nbrewind_twin = True
    # Ray checks the call's arguments against this signature at submission: keep the user's
    # (behind the spec when it is passed). Set here, Ray skips reading the twin's own
    # (*args, **kwargs).
    user = list(inspect.signature(fn).parameters.values())
    remote._function_signature = user if context is not None else [inspect.Parameter(SPEC_PARAMETER, inspect.Parameter.POSITIONAL_ONLY), *user]
    twin.remotes[context] = (remote, prefix)
    return remote, prefix


def dispatch_of(prefix: str, returned: list[Any]) -> str:
    """The dispatch id of a call of a twin made with a context: what the twin names it on the worker."""
    return prefix + returned[0].task_id().hex()


def forget() -> None:
    """After ``ray.shutdown``: the next job snapshots every function again."""
    _twins.clear()


def _persisting_task(payload: bytes, runner: Any, context: Context) -> Any:
    loaded: list[Any] = []

    def function() -> Any:
        if not loaded:  # once per worker process
            import pickle

            loaded.append(pickle.loads(payload))
        return loaded[0]

    if context is None:

        def task_with_spec(spec: Any, /, *args: Any, **kwargs: Any) -> Any:
            return runner(function(), spec, *args, **kwargs)

        return task_with_spec

    blobs_dir, prefix, policy = context

    def task(*args: Any, **kwargs: Any) -> Any:
        import ray  # on the worker: already imported, it runs this task

        # The worker does not know the task key (it would be one more argument per call): the
        # kernel matches notes by dispatch id, and takes the key from its own record.
        dispatch = prefix + ray.get_runtime_context().get_task_id()
        return runner(function(), (blobs_dir, "", dispatch, policy), *args, **kwargs)

    return task
