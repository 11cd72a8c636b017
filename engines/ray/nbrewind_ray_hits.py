"""The ObjectRefs of Ray hits, made many at a time.

A hit must hand the caller a real ``ObjectRef`` (``ray.get``, ``ray.wait``,
``await``, downstream tasks, refs nested in arguments). ``ray.put`` gives one,
but Ray writes every put to the plasma store (create, seal and pin: calls to
the raylet), which costs about what an empty task's round trip costs: an
all-hit repeat of N tasks cost about as much as running them.

The small return values of a task, by contrast, come back inlined in the
task's reply and are kept in the owner's in-memory store. So the refs of
several hits are made by one call (an actor method, ``num_returns=K``) that
returns the K recorded values it is handed: one submission for K refs, each
a return of that call, owned by this kernel like a put's.

Which values: the current cell's recorded results (the memo table, in the
order the bundle listed them), from the hit being served onwards, small ones
only (``SMALL``; a larger result, or a hit with several returns, is still
served by ``ray.put``). A batch is prepared when a hit finds no ref ready:
16 values first, then four times as many at each batch of the cell (up to
``MOST``, and ``BATCH_BYTES`` of recorded results), so a cell with a few hits
loads a few values and a cell with thousands pays a handful of tasks. Each
value is loaded and checked against its digest as ``_serve`` would; a
prepared ref is handed out only to the occurrence it was prepared for, after
the usual lookup found that occurrence a hit with the same digest, so what
the caller reads is exactly the recorded result. Refs prepared for tasks
that turn out not to be hits are dropped when the next cell's first hit (or
``ray.shutdown``) replaces the batch state.

The batches are method calls of one actor per Ray job, started at the
job's first hit (or when Ray starts in a run that has recorded results):
it asks for no CPU (``num_cpus=0``) and prefers this kernel's node, so a
batch never queues behind the user's running tasks, nor waits for a worker
process to start (a plain task would need one whenever the user's tasks hold
every worker); until the actor answers, hits are put as before. Should it
die, Ray restarts it and retries its calls.
"""

from __future__ import annotations

import functools
import threading
import traceback
import weakref
from dataclasses import dataclass, field
from typing import Any

from nbrewind.tasks import runtime as task_runtime

# A recorded result at most this many bytes is prepared in a batch (Ray inlines task returns
# below 100 KiB in the reply: our serialised size and Ray's differ, so a margin).
SMALL = 32 << 10
# Recorded bytes per batch at most. Arguments and returns travel inlined in one request and
# reply; and Ray keeps a retryable call's arguments while any of its returns is referenced, so
# a hit ref the notebook holds keeps up to this much of its batch in the kernel's memory.
BATCH_BYTES = 256 << 10
FIRST = 16
GROWTH = 4
MOST = 1024
# Entries looked at per batch at most (skipping served or large ones).
_SCAN_MOST = 4 * MOST

MemoKey = tuple[Any, str, int]  # (cell id, task key, occurrence index), as in the runtime's memo


@dataclass
class _CellBatches:
    """The current cell's recorded results and the refs prepared for them."""

    runtime: weakref.ReferenceType[task_runtime.TaskRuntime]
    cell_id: Any
    job: Any
    order: list[tuple[MemoKey, task_runtime.Stored]]
    position: dict[MemoKey, int]
    # prepared, not handed out yet: memo key -> (digest, ref)
    ready: dict[MemoKey, tuple[str, Any]] = field(default_factory=dict)
    # entries already put in a batch, or skipped by one (never prepared twice)
    seen: set[MemoKey] = field(default_factory=set)
    next_size: int = FIRST
    batches: int = 0


@dataclass
class _Server:
    """The actor that makes the batches, for one Ray job."""

    job: Any
    handle: Any
    ping: Any  # its first call's ref: ready once the actor answers
    ready: bool = False  # set by the ping's callback
    broken: bool = False


_lock = threading.Lock()
_state: _CellBatches | None = None
_server: _Server | None = None


def ref_for(ray: Any, rt: task_runtime.TaskRuntime, key: str, occurrence: task_runtime.Occurrence, stored: task_runtime.Stored) -> Any:
    """A ref to ``stored`` (the hit ``rt.lookup`` found for this occurrence of ``key``) made
    by a batch, or None: then the caller puts the value itself."""
    global _state
    if stored.size > SMALL:
        return None
    job = ray._private.worker.global_worker.current_cluster_and_job
    mk = (occurrence.cell_id, key, occurrence.index)
    with _lock:
        if not _server_ready(ray, job):
            return None
        state = _state
        if state is None or state.runtime() is not rt or state.cell_id != occurrence.cell_id or state.job != job:
            state = _state = _cell_batches(rt, occurrence.cell_id, job)
        got = state.ready.pop(mk, None)
        if got is None and mk not in state.seen:
            _prepare(ray, rt, state, mk)
            got = state.ready.pop(mk, None)
    if got is None or got[0] != stored.digest:
        return None
    return got[1]


def start(ray: Any) -> None:
    """Start this job's batch actor now (it answers a while later): Ray just started in a run with recorded results."""
    if ray._private.client_mode_hook.client_mode_should_convert():
        return  # Ray Client: its tasks are not memoized, no hit will come
    with _lock:
        _server_ready(ray, ray._private.worker.global_worker.current_cluster_and_job)


def forget(server: bool = True) -> None:
    """Prepared refs dropped (and the actor, after ``ray.shutdown``; a test keeps it)."""
    global _state, _server
    with _lock:
        _state = None
        if server:
            _server = None


def stats() -> dict[str, int]:
    """For tests: the current cell's batches and refs still prepared."""
    state = _state
    if state is None:
        return {"batches": 0, "ready": 0}
    return {"batches": state.batches, "ready": len(state.ready)}


def _cell_batches(rt: task_runtime.TaskRuntime, cell_id: Any, job: Any) -> _CellBatches:
    # A snapshot (list() of a dict is taken at once): user threads may add entries meanwhile.
    order = [(mk, stored) for mk, stored in list(rt.memo.items()) if mk[0] == cell_id]
    return _CellBatches(weakref.ref(rt), cell_id, job, order, {mk: i for i, (mk, _) in enumerate(order)})


def _prepare(ray: Any, rt: task_runtime.TaskRuntime, state: _CellBatches, first: MemoKey) -> None:
    """One batch: the recorded results from ``first`` on, in the cell's order, as the returns of one actor call."""
    start = state.position.get(first)
    if start is None:
        return  # not a recorded result of this cell (a shared cache's, found by the lookup)
    keys: list[MemoKey] = []
    digests: list[str] = []
    values: list[Any] = []
    size = 0
    for mk, stored in state.order[start : start + _SCAN_MOST]:
        if len(values) >= state.next_size:
            break
        if mk in state.seen or stored.size > SMALL:
            continue
        if size + stored.size > BATCH_BYTES:
            break
        state.seen.add(mk)
        try:
            value = rt.load(stored, mk[1])
        except Exception:
            continue  # served (or found damaged) by the usual path
        if isinstance(value, ray.ObjectRef):
            continue  # Ray would hand the task the value behind it, not the ref
        keys.append(mk)
        digests.append(stored.digest)
        values.append(value)
        size += stored.size
    if not values:
        return
    try:
        assert _server is not None
        made = _server.handle.echo.options(num_returns=len(values)).remote(*values)
    except Exception:
        traceback.print_exc()  # these hits are put one by one, as before
        return
    made = [made] if len(values) == 1 else list(made)
    for mk, digest, ref in zip(keys, digests, made):
        state.ready[mk] = (digest, ref)
    state.batches += 1
    state.next_size = min(state.next_size * GROWTH, MOST)


def _server_ready(ray: Any, job: Any) -> bool:
    """Whether this job's actor answers; started (not waited for) the first time. Under ``_lock``."""
    global _server
    server = _server
    if server is None or server.job != job:
        try:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            near = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
            actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(_make_server())
            handle = actor.options(scheduling_strategy=near).remote()
            server = _server = _Server(job, handle, handle.echo.remote())
            # Told when it answers (no polling: a ray.wait costs a fifth of a put).
            server.ping.future().add_done_callback(functools.partial(_answered, server))
        except Exception:
            traceback.print_exc()
            server = _server = _Server(job, None, None, broken=True)  # this job's hits are put
        return False
    return server.ready


def _answered(server: _Server, future: Any) -> None:
    if future.exception() is None:
        server.ready = True
    else:
        server.broken = True  # could not start: this job's hits are put


def _make_server() -> type:
    # Made in a function: cloudpickle ships the class by value, the workers need not import this module.
    class nbrewind_hits:  # noqa: N801 (the name Ray shows for the actor)
        def echo(self, *values: Any) -> Any:
            return values if len(values) != 1 else values[0]

    return nbrewind_hits
