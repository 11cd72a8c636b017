"""Values that must not be pickled, recognised before trying, with the reason why.

Pickling a live handle either fails late and obscurely, or worse succeeds and
restores something that looks alive but is not (a Dask client pointing at a
scheduler that no longer exists). Engines are recognised by the module and
qualified name of the classes in the value's MRO, so this never imports Dask,
Ray or Parsl itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import socket
import subprocess
import threading
import types
from typing import Any

# (module, qualname) of a class anywhere in the value's MRO -> (label, reason).
_BY_CLASS: dict[tuple[str, str], tuple[str, str]] = {
    ("distributed.client", "Client"): ("dask.distributed.Client", "holds live connections to a scheduler"),
    ("distributed.client", "Future"): ("dask.distributed.Future", "refers to a result held by a running Dask cluster"),
    ("distributed.deploy.cluster", "Cluster"): ("dask.distributed cluster", "manages live scheduler and worker processes"),
    ("distributed.deploy.local", "LocalCluster"): ("dask.distributed.LocalCluster", "manages live scheduler and worker processes"),
    ("distributed.deploy.spec", "SpecCluster"): ("dask.distributed.SpecCluster", "manages live scheduler and worker processes"),
    ("distributed.scheduler", "Scheduler"): ("dask.distributed.Scheduler", "a live scheduler server"),
    ("distributed.worker", "Worker"): ("dask.distributed.Worker", "a live worker server"),
    ("distributed.nanny", "Nanny"): ("dask.distributed.Nanny", "a live worker process manager"),
    ("ray.actor", "ActorHandle"): ("ray.actor.ActorHandle", "refers to an actor in a running Ray cluster"),
    ("ray._raylet", "ObjectRef"): ("ray.ObjectRef", "refers to an object held by a running Ray cluster"),
    ("ray.util.placement_group", "PlacementGroup"): ("ray PlacementGroup", "reserves resources in a running Ray cluster"),
    ("ray.util.queue", "Queue"): ("ray.util.queue.Queue", "backed by an actor in a running Ray cluster"),
    ("parsl.dataflow.dflow", "DataFlowKernel"): ("parsl.DataFlowKernel", "runs Parsl's executors and their worker pools"),
    ("parsl.dataflow.futures", "AppFuture"): ("parsl.AppFuture", "refers to a task of a running Parsl DataFlowKernel"),
    ("parsl.app.futures", "DataFuture"): ("parsl.DataFuture", "refers to a file a running Parsl task produces"),
    ("parsl.executors.base", "ParslExecutor"): ("Parsl executor", "manages live worker pools"),
    ("sqlite3", "Connection"): ("sqlite3.Connection", "an open database connection"),
    ("sqlite3", "Cursor"): ("sqlite3.Cursor", "a cursor over an open database connection"),
    ("zmq.sugar.socket", "Socket"): ("zmq.Socket", "an open ZeroMQ socket"),
    ("zmq.sugar.context", "Context"): ("zmq.Context", "a live ZeroMQ context"),
}

# Stdlib kinds by isinstance: cheap, and these modules are already loaded in any kernel.
_LOCK_TYPES: tuple[type, ...] = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Semaphore,
    threading.Event,
    threading.Barrier,
)
_BY_INSTANCE: list[tuple[tuple[type, ...], str]] = [
    ((socket.socket,), "an open network socket"),
    (_LOCK_TYPES, "a thread synchronisation primitive, meaningful only inside this process"),
    ((threading.Thread,), "a running or finished thread of this process"),
    ((types.GeneratorType, types.AsyncGeneratorType), "a generator: its suspended frame cannot be saved"),
    ((types.CoroutineType,), "a coroutine: its suspended frame cannot be saved"),
    ((asyncio.Future,), "an asyncio future or task bound to this process's event loop"),
    ((concurrent.futures.Future,), "a future of work running in this process"),
    ((concurrent.futures.Executor,), "an executor owning live threads or processes"),
    ((subprocess.Popen,), "a handle on a running child process"),
    ((types.FrameType, types.TracebackType), "an interpreter frame"),
]


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def why_unserialisable(value: Any) -> str | None:
    """A reason like ``"_io.TextIOWrapper: an open file"``, or None when it is worth trying to pickle."""
    t = type(value)
    for klass in t.__mro__:
        hit = _BY_CLASS.get((getattr(klass, "__module__", ""), getattr(klass, "__qualname__", "")))
        if hit:
            label, reason = hit
            return f"{label}: {reason}"
    if isinstance(value, io.IOBase):
        state = "a closed file" if getattr(value, "closed", False) else "an open file"
        return f"{_type_name(t)}: {state}"
    for kinds, reason in _BY_INSTANCE:
        if isinstance(value, kinds):
            return f"{_type_name(t)}: {reason}"
    return None
