"""nbrewind's Ray adapter: task-level memoization of remote-function calls.

What we intercept (ray 2.60):

* ``RemoteFunction._remote``: every ``f.remote(...)`` and
  ``f.options(...).remote(...)`` ends there. The task is keyed (the function
  as Ray ships it, the argument keys; an ``ObjectRef`` argument, also nested in
  lists and dicts, contributes the key of the task that produced it, a
  ``ray.put`` value its content) and then

  - **hit**: the stored result is loaded, checked against its digest and
    handed back as an ordinary ``ObjectRef`` (one per return), so ``ray.get``
    / ``ray.wait`` and downstream tasks behave as usual; a small one-return
    result's ref is one of many made at once by one call of an actor that
    returns the cell's recorded values (``nbrewind_ray_hits``), any other is
    ``ray.put``;
    the user's task is not dispatched;
  - **miss**: the task is dispatched through its persisting twin (see
    ``nbrewind_ray_twin``), which stores the result on the worker, straight
    into the store, when the workers reach it; otherwise the result is stored
    from the kernel when it arrives;
  - **uncached** (an argument that cannot be keyed soundly, a generator task):
    dispatched unchanged, recorded with the reason.

* ``ActorMethod._remote``: actor method calls depend on the actor's state;
  they are dispatched unchanged and recorded as uncached ("actor method").
* ``ray.put``: the value's content key, for the tasks that read the ref.
* ``ray.init``: the cell that starts Ray is an engine set-up cell.

Nothing here changes what a task computes or where it runs.
"""

from __future__ import annotations

import functools
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any

import nbrewind_ray_hits as hits
import nbrewind_ray_refs as refs
import nbrewind_ray_store
import nbrewind_ray_twin as twins
from nbrewind.engine_guard import guard
from nbrewind.tasks import runtime as task_runtime
from nbrewind.tasks.hooks import when_imported
from nbrewind.tasks.keys import Keyer, Uncacheable, function_name

ENGINE = "ray"
# Off outside engine_support.json's range, or once a patch or a key computation failed.
GUARD = guard(ENGINE)
# Options that change what a task computes, not only where and how it runs.
_KEYED_OPTIONS = ("runtime_env",)
_installed = False
_ray: Any = None
_original_put: Any = None
_local = threading.local()


def install() -> None:
    """Patch Ray now if it is imported, else as soon as it is. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    when_imported("ray", GUARD.install(_patch_ray))


def _patch_ray(ray: Any) -> None:
    global _ray, _original_put
    _ray = ray
    rf_cls = ray.remote_function.RemoteFunction
    if getattr(rf_cls._remote, "_nbrewind", False):
        return
    _wrap_method(rf_cls, "_remote", _remote_function_call)
    _wrap_method(ray.actor.ActorMethod, "_remote", _actor_method_call)
    _wrap_method(ray.actor.ActorClass, "_remote", _actor_creation)

    _original_put = ray.put
    ray.put = functools.wraps(_original_put)(_put)
    original_init = ray.init

    @functools.wraps(original_init)
    def init(*args: Any, **kwargs: Any) -> Any:
        context = original_init(*args, **kwargs)
        rt = task_runtime.current
        if rt is not None:
            rt.engine_started(ENGINE, _runtime)
            if rt.memo and GUARD.on:
                _start_hit_server(ray)
        return context

    ray.init = init
    original_shutdown = ray.shutdown

    @functools.wraps(original_shutdown)
    def shutdown(*args: Any, **kwargs: Any) -> Any:
        nbrewind_ray_store.forget()
        twins.forget()
        hits.forget()
        return original_shutdown(*args, **kwargs)

    ray.shutdown = shutdown


def _start_hit_server(ray: Any) -> None:
    """A run with recorded results: the actor that makes hits' refs starts with Ray, and is
    ready by the first hit (until it answers, hits are put)."""
    _local.busy = True  # our actor is not the user's
    try:
        hits.start(ray)
    except Exception:
        traceback.print_exc()  # hits are then put, as before
    finally:
        _local.busy = False


def _wrap_method(cls: type, name: str, handler: Any) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        rt = task_runtime.current
        if rt is None or getattr(_local, "busy", False) or not GUARD.on:
            return original(self, *args, **kwargs)
        _local.busy = True  # our own submissions (the twin, a probe) are not intercepted again
        submitted: list[bool] = []

        def submit(target: Any, *a: Any, **k: Any) -> Any:
            # Only the user's own submission counts: a failed submission of our persisting
            # twin is ours, and falls back like any other failure of ours.
            if target is self:
                submitted.append(True)
            return original(target, *a, **k)

        mark = rt.mark()
        try:
            return handler(submit, self, rt, *args, **kwargs)
        except Exception as err:
            if submitted:
                raise  # Ray's own answer to the submission (a bad argument): the user's to see
            # Our bookkeeping failed before anything reached Ray: forget it, submit as Ray would.
            rt.forget_since(mark)
            GUARD.failed(f"handling {cls.__name__}.{name}", err)
        finally:
            _local.busy = False
        return original(self, *args, **kwargs)

    method._nbrewind = True  # type: ignore[attr-defined]
    setattr(cls, name, method)


class _RayRuntime:
    """What the core closes at the end of a run (``shutdown_engines``): Ray in this kernel.

    ``ray.shutdown()`` stops the raylet, GCS and workers this kernel started, or
    only disconnects from a cluster it joined (``ray.init(address=...)``).
    """

    def close(self) -> None:
        if _ray is not None and _ray.is_initialized():
            _ray.shutdown()


# One for the kernel, held here: the core keeps only a weak reference.
_runtime = _RayRuntime()


# ------------------------------------------------------------------ submissions


def _remote_function_call(original: Any, rf: Any, rt: task_runtime.TaskRuntime, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
    args = list(args or ())
    kwargs = dict(kwargs or {})
    if getattr(rf, "_nbrewind_twin", False):
        return original(rf, args, kwargs, **options)
    _ensure_initialised()
    rt.engine_used(ENGINE)
    fn = rf._function
    try:
        planned = _plan(rt, rf, args, kwargs, options)
    except Exception as err:  # never let our bookkeeping break the user's submission
        traceback.print_exc()
        planned = f"nbrewind could not key this task ({type(err).__name__}: {err})"
    if isinstance(planned, str):
        result = original(rf, args, kwargs, **options)
        returned = _as_list(result)
        refs.unkeyable(returned, f"depends on a task that is not cached ({function_name(fn)}: {planned})")
        rt.uncached(rt.record(ENGINE, fn, Uncacheable(planned), [], [], _engine_key(returned)), planned)
        return result
    served = _serve(rt, fn, planned)
    if served is not None:
        return served
    placement = nbrewind_ray_store.placement(_ray, rt, planned.job)
    if placement.on_worker:
        # A call's result is handed to the notebook (an ObjectRef it may ray.get): kept whatever it costs.
        policy = rt.store_policy(keep=True)
        if planned.num_returns == 0:
            # No ObjectRef to read the task id from: the spec goes with the call.
            remote, _ = twins.persisting_remote(_ray, rf, planned.twin, placement.runners.run_and_persist, None)
            dispatch = rt.new_dispatch()
            result = original(remote, [(rt.blobs_dir, planned.key, dispatch, policy), *args], kwargs, **options)
        else:
            remote, prefix = twins.persisting_remote(_ray, rf, planned.twin, placement.runners.run_and_persist, (rt.blobs_dir, rt.session_prefix, policy))
            result = original(remote, args, kwargs, **options)
            dispatch = twins.dispatch_of(prefix, _as_list(result))
    else:
        dispatch = rt.new_dispatch()
        result = original(rf, args, kwargs, **options)
    returned = _as_list(result)
    refs.produced(returned, planned.key)
    record = rt.record(ENGINE, fn, planned.key, planned.arg_keys, planned.upstream, _engine_key(returned), planned.occurrence)
    rt.dispatched(record, dispatch)
    if not placement.on_worker:
        nbrewind_ray_store.persist_from_kernel(rt, record, dispatch, returned)
    return result


@dataclass
class _Planned:
    key: str
    twin: twins.Twin
    num_returns: int
    arg_keys: list[str]
    upstream: list[str]
    occurrence: task_runtime.Occurrence
    job: Any  # Ray's cluster and job the twin was taken for


def _plan(rt: task_runtime.TaskRuntime, rf: Any, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any]) -> _Planned | str:
    """The task's key and what goes with it, or why the task is not cached."""
    if rf._is_cross_language:
        return "a cross-language remote function: its code is not Python nbrewind can key"
    if _ray._private.client_mode_hook.client_mode_should_convert():
        return "submitted through Ray Client (ray://): not memoized yet"
    num_returns = _num_returns(rf, options)
    if not isinstance(num_returns, int):
        return f"a generator task (num_returns={num_returns!r}): its results stream"
    upstream: set[str] = set()

    def ref_key(value: Any) -> str | None:
        if isinstance(value, _ray.ObjectRef):
            contributed, producer = refs.key_of(value)
            if producer is not None:
                upstream.add(producer)
            return contributed
        if isinstance(value, _ray.actor.ActorHandle):
            raise Uncacheable("takes an actor handle: the actor's state is not part of any key")
        if isinstance(value, _ray.ObjectRefGenerator):
            raise Uncacheable("takes an ObjectRefGenerator: a stream is not keyed")
        if isinstance(value, _ray.remote_function.RemoteFunction):
            # A remote function the task calls (a nested remote call): named by what it runs and
            # returns, not by Ray's handle object (which refers to itself through .remote).
            return _remote_identity(keyer, value, value._default_options)
        return None

    job = _ray._private.worker.global_worker.current_cluster_and_job
    keyer = _SnapshotKeyer(ref_key)
    try:
        twin = twins.twin_of(_ray, rf, keyer, job)
        if isinstance(twin.identity, Uncacheable):
            return twin.identity.reason
        # Two remote functions with the same code are two tasks when their names or the shape of
        # their results (num_returns) differ: both are part of the function's identity in the key.
        # Asked at every call: kept with the twin (its identity and function are fixed for the job),
        # by the only option that shapes it.
        shaped = twin.shaped.get(num_returns)
        if shaped is None:
            shaped = twin.shaped[num_returns] = _shaped_identity(twin.identity, rf._function, options, num_returns)
        keyer.pin(rf._function, shaped)
        def arg_key(value: Any) -> str:
            # Ray hands the task the value behind a top-level ObjectRef: the ref stands for that
            # value's key (the producer's task key), as for an upstream future in the other engines.
            # Nested refs reach the task as refs: ref_key above keys them as refs.
            if isinstance(value, _ray.ObjectRef):
                contributed, producer = refs.key_of(value)
                if producer is not None:
                    upstream.add(producer)
                return contributed
            return keyer.value_key(value)

        try:
            arg_keys = [arg_key(a) for a in args]
            kwarg_keys = {name: arg_key(v) for name, v in kwargs.items()}
            for option in _KEYED_OPTIONS:
                if options.get(option):
                    # Not an identifier: cannot collide with a keyword argument.
                    kwarg_keys[f"ray:{option}"] = keyer.value_key(options[option])
        except Uncacheable as err:
            return err.reason
        key = keyer.task_key(ENGINE, rf._function, arg_keys, kwarg_keys)
        # Each call is a task of its own, served only what its own occurrence was recorded with.
        return _Planned(key, twin, num_returns, [*arg_keys, *(kwarg_keys[k] for k in sorted(kwarg_keys))], sorted(upstream), rt.submission(key), job)
    finally:
        # ref_key closes over keyer, and keyer holds ref_key: a reference cycle that only the
        # garbage collector frees. Left to it, every submission's keyer (its caches, the closure,
        # the upstream set) outlived the call: ~17 containers a task where Ray's own submission
        # leaves one, 2,000 submissions made Python collect 8x as often, and now and then collect
        # everything (~60 ms in a kernel with Ray loaded). Cutting the cycle frees them at return.
        del keyer  # the closures' cell: ref_key no longer reaches the keyer


# Options that shape what a call returns (how many refs, and so what each holds). The twin's
# shaped identities (Twin.shaped, _plan) are kept by num_returns alone: add any option added
# here to their key.
_RESULT_SHAPING_OPTIONS = ("num_returns",)


# (identity, function name, shaping) -> the shaped identity: asked at every call of a remote function.
_shaped: dict[tuple[str, str, str], str] = {}


def _shaped_identity(identity: str, fn: Any, options: dict[str, Any], num_returns: Any) -> str:
    shaping = {name: options.get(name) for name in _RESULT_SHAPING_OPTIONS}
    shaping["num_returns"] = num_returns
    parts = (identity, function_name(fn), repr(sorted(shaping.items())))
    known = _shaped.get(parts)
    if known is None:
        if len(_shaped) >= 10_000:
            _shaped.clear()
        known = _shaped[parts] = Keyer().value_key(("ray-remote", *parts))
    return known


def _remote_identity(keyer: Keyer, rf: Any, options: dict[str, Any]) -> str:
    if rf._is_cross_language:
        raise Uncacheable("calls a cross-language remote function: its code is not Python nbrewind can key")
    return _shaped_identity(keyer.function_identity(rf._function), rf._function, options, _num_returns(rf, options))


def _num_returns(rf: Any, options: dict[str, Any]) -> Any:
    """How many refs a call returns: the call's options (Ray merges the decorator's into them), else Ray's default."""
    num_returns = options.get("num_returns")
    if num_returns is None:
        num_returns = "streaming" if rf._is_generator else 1
    return num_returns


class _SnapshotKeyer(Keyer):
    """A keyer that names one function by the identity of its snapshot (the code and
    globals Ray ships), fixed when its twin was made, not by its globals of this moment."""

    def __init__(self, ref_key: Any) -> None:
        super().__init__(ref_key)
        self._pinned: tuple[Any, str] | None = None

    def pin(self, fn: Any, identity: str) -> None:
        self._pinned = (fn, identity)

    def function_identity(self, fn: Any) -> str:
        if self._pinned is not None and fn is self._pinned[0]:
            return self._pinned[1]
        return super().function_identity(fn)


def _serve(rt: task_runtime.TaskRuntime, fn: Any, planned: _Planned) -> Any:
    """The stored result as ObjectRefs, without dispatching; None when it is not (usably) stored."""
    stored = rt.lookup(planned.key, planned.occurrence, None, planned.upstream)
    if stored is None:
        return None
    # A small result with one return: a ref made by a batch of this cell's hits (one actor call
    # returning many recorded values), much cheaper than a put (see nbrewind_ray_hits).
    batched = None
    if planned.num_returns == 1:
        try:
            batched = hits.ref_for(_ray, rt, planned.key, planned.occurrence, stored)
        except Exception:
            traceback.print_exc()  # this hit is put, as before
    if batched is not None:
        served = [batched]
    else:
        try:
            value = rt.load(stored, planned.key)  # a blob of its own, or its slice of a cell's pack
            parts = [value] if planned.num_returns == 1 else list(value)
            if len(parts) != planned.num_returns:
                return None  # stored under another num_returns: run it
        except Exception:
            traceback.print_exc()  # a damaged blob is a miss, never a wrong answer
            return None
        served = [_original_put(part) for part in parts]
    refs.produced(served, planned.key)
    rt.hit(rt.record(ENGINE, fn, planned.key, planned.arg_keys, planned.upstream, _engine_key(served), planned.occurrence), stored)
    if planned.num_returns == 0:
        return None
    return served[0] if planned.num_returns == 1 else served


def _actor_method_call(original: Any, method: Any, rt: task_runtime.TaskRuntime, *args: Any, **kwargs: Any) -> Any:
    rt.engine_used(ENGINE)
    result = original(method, *args, **kwargs)
    returned = _as_list(result)
    name = _actor_method_name(method)
    refs.unkeyable(returned, f"depends on an actor method's result ({name}): actor state is not keyed")
    record = rt.record(ENGINE, None, Uncacheable("actor method"), [], [], _engine_key(returned))
    record["function"] = name
    rt.uncached(record, "actor method")
    return result


def _actor_creation(original: Any, cls: Any, rt: task_runtime.TaskRuntime, *args: Any, **kwargs: Any) -> Any:
    _ensure_initialised()
    rt.engine_used(ENGINE)
    return original(cls, *args, **kwargs)


def _put(value: Any, *args: Any, **kwargs: Any) -> Any:
    ref = _original_put(value, *args, **kwargs)
    if task_runtime.current is not None and GUARD.on:
        try:
            content: str | Uncacheable = Keyer(_put_ref_key).value_key(value)
        except Uncacheable as err:
            content = Uncacheable(f"reads a ray.put value that cannot be keyed: {err.reason}")
        except Exception as err:  # bookkeeping only: the put itself succeeded
            content = Uncacheable(f"reads a ray.put value nbrewind could not key ({type(err).__name__}: {err})")
        refs.put(ref, content)
    return ref


def _put_ref_key(value: Any) -> str | None:
    """Refs nested in a put value contribute their own keys."""
    if isinstance(value, _ray.ObjectRef):
        return refs.key_of(value)[0]
    return None


# ------------------------------------------------------------------ helpers


def _ensure_initialised() -> None:
    """Ray starts itself at the first submission when no cell called ``ray.init``: do it
    through ``ray.init`` (patched), so the submitting cell is known to have started Ray."""
    if not _ray.is_initialized():
        _ray._private.auto_init_hook.auto_init_ray()


def _as_list(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, list):
        return result
    if isinstance(result, _ray.ObjectRef):
        return [result]
    return []  # a generator: not keyed, and its refs are unknown to readers


def _engine_key(returned: list[Any]) -> str:
    """Ray's name for the task's result: its Ray session and first ObjectRef (and how many more).

    The session matters: ObjectRef ids count tasks within a job, so the same id
    names another task in the next run (explanations match tasks by engine key).
    """
    if not returned:
        return ""
    more = f"+{len(returned) - 1}" if len(returned) > 1 else ""
    return f"{_session_name()}/{returned[0].hex()}{more}"


def _session_name() -> str:
    worker = _ray._private.worker.global_worker
    node = getattr(worker, "node", None)
    name = getattr(node, "session_name", None)
    return name if isinstance(name, str) else f"job-{worker.current_job_id.hex()}"


def _actor_method_name(method: Any) -> str:
    actor = getattr(method, "_actor", None)
    handle = actor() if callable(actor) and not hasattr(actor, "_ray_actor_id") else actor
    descriptor = getattr(handle, "_ray_actor_creation_function_descriptor", None)
    cls = getattr(descriptor, "class_name", None) or "actor"
    return f"{cls}.{getattr(method, '_method_name', '?')}"


if "nbrewind_ray" not in sys.modules:  # imported under another name: keep one module state
    sys.modules["nbrewind_ray"] = sys.modules[__name__]
