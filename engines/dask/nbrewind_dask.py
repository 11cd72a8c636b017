"""nbrewind's Dask adapter: task-level memoization at the graph level.

Every way of running Dask work ends in one of two places (dask 2026.8,
distributed 2026.8), and those are what we intercept:

* ``dask.base.get_scheduler``: ``dask.compute``/``persist``, ``.compute()`` /
  ``.persist()`` on collections and delayed objects and
  ``compute_as_if_collection`` all ask it for a ``schedule(graph, keys)``
  callable and call it. We wrap the callable it returns, so this holds for
  every scheduler that executes a Dask graph: threads, processes, sync, and
  third-party ones such as DaskVine (``scheduler=m.get``). A distributed
  ``Client.get`` is returned as is (its ``__self__`` must stay visible to
  ``dask.persist``): it ends in the second point.
* ``distributed.Client._graph_to_futures``: ``Client.compute``/``persist``/
  ``get``/``submit``/``map`` and ``dask.compute`` on a distributed client all
  send their graph to the scheduler through it. We materialise the graph on
  the client, rewrite it, and send the rewritten low-level graph instead.

The rewrite computes Merkle task keys bottom-up (a dependency contributes its
task key; a Dask key held by an earlier future contributes the task key of
the task that produced it) and replaces

* a **hit** by the stored value itself (a data node with the same Dask key)
  when the graph runs in this process or the workers cannot reach the store,
  else by a loader task with no dependencies: the worker reads the result
  blob from the store and checks its digest;
* a **miss** by the same task whose callable is wrapped to store its result
  where it was produced (on the worker, straight into the store), or, when
  the workers cannot reach the store, the client stores the results it
  receives;
* an **uncacheable** task (a value that cannot be keyed soundly) by itself,
  recorded with the reason;

then culls what the requested keys no longer need. User code receives the
same values and the same future types.
"""

from __future__ import annotations

import copy
import functools
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import nbrewind
from nbrewind.engine_guard import guard
from nbrewind.gc_pause import gc_paused
from nbrewind.tasks import runtime as task_runtime
from nbrewind.tasks.hooks import when_imported
from nbrewind.tasks.keys import Keyer, Uncacheable
from nbrewind.tasks.shipping import RUNNERS_BY_REFERENCE, RUNNERS_BY_VALUE, Runners

ENGINE = "dask"
# Off outside engine_support.json's range, or once a patch or a rewrite failed.
GUARD = guard(ENGINE)
_installed = False
# Dask key -> task key of every task we keyed: a later graph or submit that
# reads such a key (a future passed as an argument) uses it as the upstream key.
_produced: dict[Any, str] = {}
_PRODUCED_MAX = 1_000_000
_local = threading.local()


@dataclass(frozen=True)
class Placement:
    """Where a rewritten graph runs, as far as memoization cares."""

    runners: Runners
    # Hits become data nodes loaded here (in-process schedulers, unreachable store)
    # rather than loader tasks that read the store on the worker.
    load_here: bool
    # Set (to the reason) when the workers cannot write into the store.
    client_side: str | None = None


# The threaded and sync schedulers run in this process; the process pool's children
# are spawned with this kernel's sys.path: all import nbrewind by reference.
_IN_PROCESS = Placement(RUNNERS_BY_REFERENCE, load_here=True)
_LOCAL_CHILDREN = Placement(RUNNERS_BY_REFERENCE, load_here=False)
# A scheduler we do not know (DaskVine, a custom get): it may run anywhere.
_UNKNOWN = Placement(RUNNERS_BY_VALUE, load_here=False)


def install() -> None:
    """Patch Dask now if it is imported, else as soon as it is. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    when_imported("dask.base", GUARD.install(_patch_dask_base))
    when_imported("distributed.client", GUARD.install(_patch_distributed_client))
    when_imported("distributed.deploy.spec", GUARD.install(_patch_spec_cluster))


# ------------------------------------------------------------------ interception


def _persisting(original: Callable[..., Any]) -> Callable[..., Any]:
    """``persist`` marked while it runs: the outputs of its graph stay in the engine, so
    they are weighed by the storage policy instead of being kept whatever they cost."""

    @functools.wraps(original)
    def persist(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_local, "persisting", False)
        _local.persisting = True
        try:
            return original(*args, **kwargs)
        finally:
            _local.persisting = outer

    persist._nbrewind = True  # type: ignore[attr-defined]
    return persist


def _patch_dask_base(base: Any) -> None:
    if not getattr(base.persist, "_nbrewind", False):
        # Before dask/__init__ binds dask.persist: this callback runs as soon as dask.base is loaded.
        base.persist = _persisting(base.persist)
    if not getattr(base.compute, "_nbrewind", False):
        original_compute = base.compute
        base.compute = _answering_compute(base, original_compute)
        package = sys.modules.get("dask")
        if getattr(package, "compute", None) is original_compute:
            package.compute = base.compute  # dask was imported before us: its own binding too
    original = base.get_scheduler
    if getattr(original, "_nbrewind", False):
        return

    @functools.wraps(original)
    def get_scheduler(*args: Any, **kwargs: Any) -> Any:
        schedule = original(*args, **kwargs)
        if schedule is None or isinstance(schedule, _MemoSchedule) or not GUARD.on:
            return schedule
        owner = getattr(schedule, "__self__", None)
        if owner is not None and hasattr(owner, "_graph_to_futures"):
            return schedule  # a distributed Client: memoized in _graph_to_futures
        return _MemoSchedule(schedule, _scheduler_label(base, schedule))

    get_scheduler._nbrewind = True  # type: ignore[attr-defined]
    base.get_scheduler = get_scheduler


def _answering_compute(base: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    """``dask.compute`` (and ``.compute()`` of a collection, which calls it): a computation of
    ``delayed`` objects whose every task is a hit is answered before Dask optimises the graph.

    Dask's own work before any scheduler sees a graph (expressions, optimisation, culling
    every one-task layer against every key, materialisation) costs more than running empty
    tasks on the threaded scheduler, so answering in the scheduler's place saves little
    there. Here the hits are served from the collections' own graphs, which for ``delayed``
    are the graph Dask would run once culled: the same tasks, keys, records and
    occurrences. Anything else goes on to Dask as before: another kind of collection, a
    task that is not a hit, a task key met twice in the graph (its occurrences would be
    counted in another order than the optimised graph's), fusion or a custom optimiser
    configured, an asynchronous client."""

    @functools.wraps(original)
    def compute(*args: Any, traverse: bool = True, optimize_graph: bool = True, scheduler: Any = None, get: Any = None, **kwargs: Any) -> Any:
        rt = task_runtime.active()
        if rt is not None and rt.memo and optimize_graph and get is None and not getattr(_local, "busy", False) and GUARD.on:
            answer = None
            with GUARD.attempt("answering a Dask computation from its recorded results", rt), gc_paused():
                answer = _answer_delayed(base, rt, args, traverse, scheduler, kwargs)
            if answer is not None:
                return answer.result()
        return original(*args, traverse=traverse, optimize_graph=optimize_graph, scheduler=scheduler, get=get, **kwargs)

    compute._nbrewind = True  # type: ignore[attr-defined]
    return compute


@dataclass
class _DelayedAnswer:
    """A computation of ``delayed`` objects taken over from ``dask.compute``: the values of
    the graph's keys (every task a hit), or, when a stored result went away between the
    check and the rewrite, the rewritten graph, run here (outside the adapter's guard: an
    exception it raises is the user's)."""

    values: dict[Any, Any] | None
    graph: dict[Any, Any]
    outputs: list[Any]
    args: tuple[Any, ...]
    traverse: bool

    def result(self) -> tuple[Any, ...]:
        values = self.values
        if values is None:
            from dask.threaded import get as threaded_get

            _local.busy = True
            try:
                values = dict(zip(self.outputs, threaded_get(self.graph, self.outputs)))
            finally:
                _local.busy = False
        return tuple(_repacked(a, values, self.traverse) for a in self.args)


def _answer_delayed(base: Any, rt: task_runtime.TaskRuntime, args: tuple[Any, ...], traverse: bool, scheduler: Any, kwargs: dict[str, Any]) -> _DelayedAnswer | None:
    """The answer when every task is a hit; None: let Dask compute it."""
    from dask import config

    collections = _delayed_in(args, traverse)
    if not collections:
        return None
    if config.get("optimization.fuse.delayed", False) or config.get("delayed_optimize", None) is not None:
        return None  # the graph Dask runs is not the collections' own, culled
    schedule = base.get_scheduler(scheduler=scheduler, collections=collections)
    if isinstance(schedule, _MemoSchedule):
        label = schedule.label
    else:
        client = getattr(schedule, "__self__", None)
        if client is None or not hasattr(client, "_graph_to_futures") or client.asynchronous or kwargs:
            return None  # what Client.get would be asked with extra options: to it, as before
        label = f"{ENGINE}:distributed"
    graph = _materialise_all([c.__dask_graph__() for c in collections])
    outputs = [c.key for c in collections]
    graph = {k: graph[k] for k in _needed(graph, set(outputs), {})}  # what Dask's cull keeps
    keyed = _key_graph(graph)
    tasks = [k for k, node in graph.items() if _memoizable(k, node)]
    keys = [keyed.node_keys[k] for k in tasks]
    if len(set(keys)) != len(keys) or not all(isinstance(key, str) for key in keys):
        return None
    sizes: dict[str, int] = {}
    if not all(rt.would_hit(key, sizes) for key in keys):  # type: ignore[arg-type]
        return None
    hits = dict.fromkeys(tasks)
    if not _answerable(graph, _needed(graph, set(outputs), hits), set(outputs), hits):
        return None
    rt.engine_used(label)
    new, _ = rewrite(graph, set(outputs), rt, _IN_PROCESS, answer_here=True, keyed=keyed)
    if isinstance(new, Answered):
        return _DelayedAnswer(new.values, graph, outputs, args, traverse)
    return _DelayedAnswer(None, new, outputs, args, traverse)


def _delayed_in(args: tuple[Any, ...], traverse: bool) -> list[Any] | None:
    """The ``delayed`` objects ``dask.compute(*args)`` would compute, once each; None when
    it would meet something else: another kind of collection, or a container it traverses
    that is not a plain list, tuple or dict (an iterator it would consume, a set, a
    dataclass, a subclass)."""
    import dataclasses
    from collections.abc import Iterator

    from dask.base import is_dask_collection
    from dask.delayed import Delayed

    found: dict[Any, Any] = {}

    def walk(value: Any, deep: bool) -> bool:
        if isinstance(value, Delayed):
            found.setdefault(value.key, value)
            return True
        t = type(value)
        if deep and t in (list, tuple):
            return all(walk(v, True) for v in value)
        if deep and t is dict:
            return all(walk(k, True) and walk(v, True) for k, v in value.items())
        if is_dask_collection(value):
            return False
        if not deep:
            return True
        return not (isinstance(value, (Iterator, list, tuple, dict, set, frozenset)) or (dataclasses.is_dataclass(value) and not isinstance(value, type)))

    if not all(walk(a, traverse) for a in args):
        return None
    return list(found.values())


def _repacked(value: Any, values: dict[Any, Any], traverse: bool) -> Any:
    """``value`` with each ``delayed`` object replaced by its value, as ``dask.compute``
    returns it (plain lists, tuples and dicts rebuilt, anything else as it is)."""
    from dask.delayed import Delayed

    if isinstance(value, Delayed):
        return values[value.key]
    if traverse:
        t = type(value)
        if t in (list, tuple):
            return t(_repacked(v, values, True) for v in value)
        if t is dict:
            return {_repacked(k, values, True): _repacked(v, values, True) for k, v in value.items()}
    return value


class _MemoSchedule:
    """A scheduler's ``get`` that rewrites the graph first. Compares equal to the
    wrapped callable: ``dask.utils.get_scheduler_lock`` tests ``get == multiprocessing.get``."""

    def __init__(self, schedule: Callable[..., Any], label: str) -> None:
        self.schedule = schedule
        self.label = label

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        rt = task_runtime.active()
        if rt is None or getattr(_local, "busy", False) or not GUARD.on:
            return self.schedule(dsk, keys, **kwargs)
        rt.engine_used(self.label)
        kind = self.label.partition(":")[2]
        placement = _IN_PROCESS if kind in ("threads", "sync") else _LOCAL_CHILDREN if kind == "processes" else _UNKNOWN
        _local.busy = True  # a scheduler that calls back into dask.compute is not rewritten twice
        try:
            new: Any = dsk
            with GUARD.attempt("rewriting a Dask graph", rt):
                new, _ = rewrite(_materialise(dsk), set(_flatten(keys)), rt, placement, answer_here=True)
            if isinstance(new, Answered):
                # Every task it needs was a hit: the values, as the scheduler would return them.
                from dask.local import nested_get

                return nested_get(keys, new.values)
            return self.schedule(new, keys, **kwargs)
        finally:
            _local.busy = False

    def __eq__(self, other: object) -> bool:
        return other is self or self.schedule == other

    def __hash__(self) -> int:
        return hash(self.schedule)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.schedule, name)


def _scheduler_label(base: Any, schedule: Any) -> str:
    for name in ("threads", "processes", "sync"):
        if base.named_schedulers.get(name) is schedule:
            return f"{ENGINE}:{name}"
    owner = getattr(schedule, "__self__", None)
    t = type(owner) if owner is not None else None
    if t is not None:
        return f"{ENGINE}:{t.__module__}.{t.__qualname__}"
    return f"{ENGINE}:{getattr(schedule, '__module__', '?')}.{getattr(schedule, '__qualname__', '?')}"


def _patch_distributed_client(client_mod: Any) -> None:
    Client = client_mod.Client
    if getattr(Client._graph_to_futures, "_nbrewind", False):
        return
    original = Client._graph_to_futures

    @functools.wraps(original)
    def _graph_to_futures(self: Any, expr: Any, keys: Any, *args: Any, **kwargs: Any) -> Any:
        rt = task_runtime.active()
        if rt is None or kwargs.get("actors") or self.asynchronous or not GUARD.on:
            # Actors are stateful: never cached. Async clients: the store probe below is
            # synchronous, so they run unmemoized (recorded as the engine being used).
            return original(self, expr, keys, *args, **kwargs)
        rt.engine_used(f"{ENGINE}:distributed")
        client_persist: ClientPersist = {}
        prepared = getattr(_local, "prepared", None)
        if prepared is not None and prepared[0] is expr:
            client_persist = prepared[1]  # rewritten by Client.get, which found a task to run
        else:
            with GUARD.attempt("rewriting a Dask graph for the distributed scheduler", rt):
                expr, client_persist = _rewrite_expr(self, expr, keys, rt)
        futures = original(self, expr, keys, *args, **kwargs)
        for k, (record, dispatch) in client_persist.items():
            fut = futures.get(k)
            if fut is not None:
                fut.add_done_callback(functools.partial(_store_from_client, rt, record, dispatch))
        return futures

    _graph_to_futures._nbrewind = True  # type: ignore[attr-defined]
    Client._graph_to_futures = _graph_to_futures
    Client.get = _answering_get(Client.get)
    Client.persist = _persisting(Client.persist)

    original_init = Client.__init__

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        rt = task_runtime.active()
        if rt is not None:
            rt.engine_started(f"{ENGINE}:distributed", self)

    Client.__init__ = __init__


def _answering_get(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Client.get`` (what ``dask.compute`` calls on a distributed client) when it returns
    values: a graph whose needed tasks are all hits is answered here, without sending the
    scheduler anything; otherwise its rewrite is handed on to ``_graph_to_futures``."""

    @functools.wraps(original)
    def get(self: Any, dsk: Any, keys: Any, *args: Any, **kwargs: Any) -> Any:
        rt = task_runtime.active()
        if rt is None or args or not kwargs.get("sync", True) or kwargs.get("actors") or kwargs.get("asynchronous") or self.asynchronous or not GUARD.on:
            return original(self, dsk, keys, *args, **kwargs)
        rt.engine_used(f"{ENGINE}:distributed")
        dsk = _as_client_expr(dsk)
        prepared: tuple[Any, ClientPersist] | None = None
        with GUARD.attempt("rewriting a Dask graph for the distributed scheduler", rt):
            new, client_persist = _rewrite_expr(self, dsk, keys, rt, answer_here=True)
            if isinstance(new, Answered):
                from distributed.utils_comm import pack_data

                return pack_data(keys, new.values)
            prepared = (new, client_persist)
        if prepared is None:
            return original(self, dsk, keys, *args, **kwargs)  # our rewrite failed: as without us
        outer = getattr(_local, "prepared", None)
        _local.prepared = prepared
        try:
            return original(self, prepared[0], keys, *args, **kwargs)
        finally:
            _local.prepared = outer

    get._nbrewind = True  # type: ignore[attr-defined]
    return get


def _as_client_expr(dsk: Any) -> Any:
    """What ``Client.get`` makes of a plain or high-level graph before it sends it (dask >= 2025.1)."""
    try:
        from dask._expr import HLGExpr, LLGExpr
        from dask.highlevelgraph import HighLevelGraph
    except ImportError:
        return dsk
    if isinstance(dsk, dict):
        return LLGExpr(dsk)
    if isinstance(dsk, HighLevelGraph):
        return HLGExpr(dsk)
    return dsk


def _store_from_client(rt: task_runtime.TaskRuntime, record: dict[str, Any], dispatch: str, future: Any) -> None:
    """Done callback of an output future whose workers cannot reach the store."""
    try:
        if future.status == "finished":
            rt.persist_client_side(record, dispatch, future.result())
        elif future.status == "error":
            rt.fail_client_side(record, dispatch, future.exception())
    except Exception:  # noqa: BLE001 - bookkeeping: the task stays unrecorded, the user's result is untouched
        pass


def _patch_spec_cluster(spec: Any) -> None:
    # LocalCluster and every SpecCluster: a cell that starts a cluster without a Client.
    cls = spec.SpecCluster
    original_init = cls.__init__
    if getattr(original_init, "_nbrewind", False):
        return

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        rt = task_runtime.active()
        if rt is not None:
            rt.engine_started(f"{ENGINE}:distributed", self)

    __init__._nbrewind = True  # type: ignore[attr-defined]
    cls.__init__ = __init__


def _rewrite_expr(client: Any, expr: Any, keys: Any, rt: task_runtime.TaskRuntime, answer_here: bool = False) -> tuple[Any, dict[Any, tuple[dict[str, Any], str]]]:
    graph = _materialise(expr)
    new, client_persist = rewrite(graph, set(_flatten(keys)), rt, _distributed_placement(client, rt), answer_here)
    if isinstance(new, Answered):
        return new, client_persist
    try:
        from dask._expr import HLGExpr, LLGExpr
    except ImportError:
        # dask < 2025.1: the client sends a HighLevelGraph (or a plain dict), not an expression.
        return _rewritten_hlg(expr, new), client_persist
    annotations = expr.__dask_annotations__() or {}
    if not annotations:
        return LLGExpr(new, _determ_token=uuid.uuid4().hex), client_persist
    return HLGExpr(dsk=_annotated_hlg(new, annotations), output_keys=list(keys)), client_persist


def _rewritten_hlg(original: Any, new: dict[Any, Any]) -> Any:
    """dask < 2025.1: the rewritten graph as a HighLevelGraph whose layers keep the
    original layers' annotations (retries, resources, workers)."""
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    layers = getattr(original, "layers", None)
    if not layers or not any(getattr(layer, "annotations", None) for layer in layers.values()):
        return HighLevelGraph({"nbrewind": MaterializedLayer(new)}, {"nbrewind": set()})
    parts: dict[str, Any] = {}
    placed: set[Any] = set()
    for name, layer in layers.items():
        keys = copy.copy(layer) if hasattr(layer, "is_materialized") else layer  # never materialise the caller's layer
        part = {k: new[k] for k in keys if k in new and k not in placed}
        placed.update(part)
        if part:
            parts[f"nbrewind-{name}"] = MaterializedLayer(part, annotations=getattr(layer, "annotations", None))
    rest = {k: v for k, v in new.items() if k not in placed}
    if rest:
        parts["nbrewind-rest"] = MaterializedLayer(rest)
    return HighLevelGraph(parts, {name: set() for name in parts})


def _annotated_hlg(dsk: dict[Any, Any], annotations: dict[str, dict[Any, Any]]) -> Any:
    """Keep per-key annotations (retries, resources, workers) across the rewrite: one
    layer per distinct annotation set."""
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    groups: dict[str, tuple[dict[str, Any], dict[Any, Any]]] = {}
    for key, node in dsk.items():
        ann = {kind: values[key] for kind, values in annotations.items() if key in values}
        sig = repr(sorted(ann.items()))
        groups.setdefault(sig, (ann, {}))[1][key] = node
    layers = {f"nbrewind-{i}": MaterializedLayer(part, annotations=ann or None) for i, (ann, part) in enumerate(groups.values())}
    return HighLevelGraph(layers, {name: set() for name in layers})


# Placement per (scheduler address, store): asked of the workers once.
_placements: dict[str, Placement] = {}


def _distributed_placement(client: Any, rt: task_runtime.TaskRuntime) -> Placement:
    """Ask every worker whether it sees the kernel's store and imports this nbrewind.

    The probe travels by value (the question is whether the worker can import us).
    A worker that joins later is assumed to be like the ones asked.
    """
    address = f"{getattr(client.scheduler, 'address', '?')}|{rt.blobs_dir}"
    known = _placements.get(address)
    if known is not None:
        return known
    nonce = uuid.uuid4().hex
    marker = f".probe-{nonce[:12]}"
    try:
        os.makedirs(rt.tasklog_dir, exist_ok=True)
        path = os.path.join(rt.tasklog_dir, marker)
        with open(path, "w", encoding="utf-8") as f:
            f.write(nonce)
        try:
            answers: dict[str, dict[str, bool]] = client.run(RUNNERS_BY_VALUE.probe, rt.blobs_dir, marker, nonce, nbrewind.__version__)
        finally:
            os.unlink(path)
    except Exception as err:  # noqa: BLE001 - no answer is not a yes; ask again next time
        return Placement(RUNNERS_BY_VALUE, load_here=True, client_side=f"cannot ask the workers whether they reach the store: {type(err).__name__}: {err}")
    if not answers:
        return Placement(RUNNERS_BY_VALUE, load_here=True, client_side="no worker was there to ask whether it reaches the store")
    far = sorted(w for w, a in answers.items() if not a.get("store"))
    by_value = not all(a.get("importable") for a in answers.values())
    runners = RUNNERS_BY_VALUE if by_value else RUNNERS_BY_REFERENCE
    if far:
        placement = Placement(runners, load_here=True, client_side=f"the store {rt.blobs_dir} is not reachable from worker(s) {', '.join(far[:3])}")
    else:
        placement = Placement(runners, load_here=False)
    _placements[address] = placement
    return placement


# ------------------------------------------------------------------ the rewrite


def _materialise_all(graphs: list[Any]) -> dict[Any, Any]:
    """One low-level graph of several collections' graphs; a layer they share is read once."""
    from collections.abc import Mapping

    from dask._task_spec import convert_legacy_graph

    flat: dict[Any, Any] = {}
    seen: set[str] = set()
    for graph in graphs:
        layers = getattr(graph, "layers", None)
        if not isinstance(layers, Mapping):
            flat.update(copy.copy(graph) if hasattr(graph, "is_materialized") else graph)
            continue
        for name, part in layers.items():
            if name not in seen:
                seen.add(name)
                flat.update(copy.copy(part) if hasattr(part, "is_materialized") else part)
    return convert_legacy_graph(flat)


def _materialise(dsk: Any) -> dict[Any, Any]:
    from collections.abc import Mapping

    from dask._task_spec import convert_legacy_graph

    graph = dsk if isinstance(dsk, Mapping) else dsk.__dask_graph__()
    layers = getattr(graph, "layers", None)
    # Materialise copies of a HighLevelGraph's layers (or of a lone layer), never the
    # caller's own: dask < 2025.1's Client.map asserts its layer stays unmaterialised.
    parts = layers.values() if isinstance(layers, Mapping) else [graph]
    flat: dict[Any, Any] = {}
    for part in parts:
        flat.update(copy.copy(part) if hasattr(part, "is_materialized") else part)
    return convert_legacy_graph(flat)


def _flatten(keys: Any) -> Iterable[Any]:
    if isinstance(keys, (list, set, frozenset)):
        for k in keys:
            yield from _flatten(k)
    else:
        yield keys


def _ref_key(value: Any) -> str | None:
    """A Dask future met inside a value (``parse_input`` usually turns them into graph refs)."""
    from dask._task_spec import TaskRef

    if isinstance(value, TaskRef) or getattr(value, "__dask_future__", False):
        known = _produced.get(value.key)
        if known is None:
            raise Uncacheable(f"reads Dask key {value.key!r}, which no task seen by nbrewind produced (scattered data, or computed before the shim was loaded)")
        return known
    return None


ClientPersist = dict[Any, tuple[dict[str, Any], str]]


class Answered:
    """Every task the requested keys need was a hit: their values, computed here (the
    recorded results, and the cheap glue between them), without the scheduler."""

    __slots__ = ("values",)

    def __init__(self, values: dict[Any, Any]) -> None:
        self.values = values


# A hit with more than one dependent is inlined into each only up to this size: a copy per dependent.
_INLINE_SHARED_MAX = 64 << 10


class _Keyed(NamedTuple):
    """A graph's task keys (or why a node has none), the argument keys of each plain task
    (kept for its record: keyed once, not twice), and the function that keys an argument."""

    node_keys: dict[Any, str | Uncacheable]
    node_args: dict[Any, list[str]]
    arg_key: Callable[[Any], str]


def _key_graph(graph: dict[Any, Any]) -> _Keyed:
    """The Merkle key of every node of ``graph``, bottom-up (in topological order)."""
    from dask._task_spec import Alias, DataNode, GraphNode, Task, TaskRef, _execute_subgraph

    keyer = Keyer(_ref_key)
    node_keys: dict[Any, str | Uncacheable] = {}

    def external(k: Any) -> str | Uncacheable:
        known = _produced.get(k)
        if known is None:
            return Uncacheable(f"reads Dask key {k!r}, which no task seen by nbrewind produced (scattered data, or computed before the shim was loaded)")
        return known

    # Keys local to a fused subgraph being keyed (innermost last).
    scopes: list[dict[Any, str]] = []

    def arg_key(a: Any) -> str:
        if isinstance(a, TaskRef) and not isinstance(a, GraphNode):
            return upstream(a.key)
        if isinstance(a, Alias):
            return upstream(a.target)
        if isinstance(a, DataNode):
            return keyer.value_key(a.value)
        if isinstance(a, Task):
            if a.func is _execute_subgraph:
                return subgraph_key(a)
            # An inline task: keyed as the computation it is.
            return keyer.task_key(ENGINE, a.func, [arg_key(x) for x in a.args], {k: arg_key(v) for k, v in a.kwargs.items()})
        return keyer.value_key(a)

    def subgraph_key(task: Any) -> str:
        """A fused task (``_execute_subgraph``, from blockwise fusion) is keyed as the
        output task of its inner graph, with the inner keys resolved inside it."""
        inner, outkey, inputs = _subgraph_parts(task)
        scope = {ik: arg_key(d) for ik, d in inputs}
        scopes.append(scope)
        try:
            for ik in _topological(inner):
                scope[ik] = key_of(inner[ik])
        finally:
            scopes.pop()
        return scope[outkey]

    def upstream(k: Any) -> str:
        if scopes and k in scopes[-1]:
            return scopes[-1][k]
        key = node_keys.get(k) if k in graph else external(k)
        if key is None:
            raise RuntimeError(f"internal: {k!r} keyed before its dependencies")
        if isinstance(key, Uncacheable):
            raise Uncacheable(key.reason if k not in graph else f"depends on {k!r}, which is not cached: {key.reason}")
        return key

    def key_of(node: Any) -> str:
        if isinstance(node, Alias):
            return upstream(node.target)
        if isinstance(node, DataNode):
            return keyer.value_key(node.value)
        return arg_key(node)

    node_args: dict[Any, list[str]] = {}
    for k in _topological(graph):
        node = graph[k]
        try:
            if isinstance(node, Task) and node.func is not _execute_subgraph:
                args = [arg_key(a) for a in node.args]
                kwargs = {name: arg_key(v) for name, v in node.kwargs.items()}
                node_keys[k] = keyer.task_key(ENGINE, node.func, args, kwargs)
                node_args[k] = args + [kwargs[name] for name in sorted(kwargs)]
            else:
                node_keys[k] = key_of(node)
        except Uncacheable as err:
            node_keys[k] = err

    return _Keyed(node_keys, node_args, arg_key)


def rewrite(graph: dict[Any, Any], outputs: set[Any], rt: task_runtime.TaskRuntime, placement: Placement, answer_here: bool = False, keyed: _Keyed | None = None) -> tuple[dict[Any, Any] | Answered, ClientPersist]:
    """``_rewrite``, with the garbage collector held off: thousands of small allocations."""
    with gc_paused():
        return _rewrite(graph, outputs, rt, placement, answer_here, keyed)


def _rewrite(graph: dict[Any, Any], outputs: set[Any], rt: task_runtime.TaskRuntime, placement: Placement, answer_here: bool = False, keyed: _Keyed | None = None) -> tuple[dict[Any, Any] | Answered, ClientPersist]:
    """The graph with hits served, misses wrapped to persist, culled to ``outputs``;
    and the output tasks whose results the client must store (``placement.client_side``).

    With ``answer_here`` (the caller wants values, not futures), a graph whose needed
    tasks are all hits is answered in this process: ``Answered`` with the values of what
    the outputs need, and the scheduler never sees it. Otherwise hits the graph still
    needs are cut out of it where they can be: a hit loaded here becomes literal data
    inside the task that reads it, so the scheduler gets no task for it at all."""
    from dask._task_spec import Alias, DataNode, GraphNode, Task, TaskRef, _execute_subgraph

    keyed = keyed if keyed is not None else _key_graph(graph)
    node_keys, node_args, arg_key = keyed.node_keys, keyed.node_args, keyed.arg_key
    client_persist: ClientPersist = {}
    runners = placement.runners

    # Decide every task in graph order (occurrences count each submission, needed or not),
    # recording it; load nothing yet: a hit the outputs do not need is never read.
    hits: dict[Any, task_runtime.Stored] = {}
    misses: dict[Any, tuple[dict[str, Any], str]] = {}
    stats: dict[str, int] = {}  # blob sizes, stat'ed once per graph (thousands of hits share a pack)
    names: dict[int, str] = {}  # function names, once per function
    decided: list[tuple[Any, dict[str, Any], task_runtime.Stored | None]] = []
    for k, node in graph.items():
        if not _memoizable(k, node):
            continue
        key = node_keys[k]
        if isinstance(key, Uncacheable):
            rt.uncached(_record(k, node, key, graph, node_keys, rt, arg_key, None, names, node_args), key.reason)
            continue
        occurrence = rt.submission(key)
        record = _record(k, node, key, graph, node_keys, rt, arg_key, occurrence, names, node_args)
        decided.append((k, record, rt.lookup(key, occurrence, stats)))
    # A hit downstream of a task computed again in this run (a file it read changed, its
    # result is gone, or so upstream of it) is computed again too: its recorded result was
    # made from the old one. Graph order need not be topological; occurrences are counted
    # in graph order above, the upstream check is made in topological order here.
    recomputed_hits = _downstream_of_recomputed(rt, graph, {k: (record, stored) for k, record, stored in decided})
    for k, record, stored in decided:
        if stored is not None and k not in recomputed_hits:
            rt.hit(record, stored)
            hits[k] = stored
            continue
        dispatch = rt.new_dispatch()  # one per submission: each has its own outcome
        if placement.client_side is not None:
            if k in outputs:
                rt.dispatched(record, dispatch)
                client_persist[k] = (record, dispatch)
            else:
                rt.uncached(record, f"{placement.client_side}; only the results the client receives are stored")
            continue
        rt.dispatched(record, dispatch)
        misses[k] = (record, dispatch)
    for k, key in node_keys.items():
        if isinstance(key, str):
            if len(_produced) >= _PRODUCED_MAX:
                _produced.clear()
            _produced[k] = key

    needed = _needed(graph, outputs, hits)
    if answer_here and _answerable(graph, needed, outputs, hits):
        values: dict[Any, Any] = {}
        for k in _topological({k: graph[k] for k in needed}):
            values[k] = rt.load(hits[k], node_keys[k]) if k in hits else graph[k](values)  # type: ignore[arg-type]
        return Answered(values), client_persist

    # The outputs come back to the notebook and are kept whatever they cost; a persist's stay in the engine.
    keep_outputs = not getattr(_local, "persisting", False)
    new: dict[Any, Any] = {}
    for k in needed:
        node = graph[k]
        stored = hits.get(k)
        if stored is not None:
            key = node_keys[k]
            assert isinstance(key, str)
            if placement.load_here or stored.pack is not None:
                # A small result is cheaper sent as data than read by a loader task on a worker.
                new[k] = DataNode(k, rt.load(stored, key))
            else:
                new[k] = Task(k, functools.partial(runners.load_result, rt.load_spec(stored, key)))
            continue
        miss = misses.get(k)
        if miss is None:
            new[k] = node  # glue, an uncached task, or one the client stores
            continue
        spec = (rt.blobs_dir, node_keys[k], miss[1], rt.store_policy(keep=keep_outputs and k in outputs))
        wrapped = functools.partial(runners.run_and_persist, node.func, spec)
        # dask < 2025.1 Tasks have no data_producer flag.
        producer = {"_data_producer": node.data_producer} if hasattr(node, "data_producer") else {}
        new[k] = Task(k, wrapped, *node.args, **producer, **node.kwargs)
    return _cut_hits(new, outputs, hits), client_persist


# Data a graph may carry that is a value as it stands (not a future the cluster resolves).
_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def _answerable(graph: dict[Any, Any], needed: list[Any], outputs: set[Any], hits: dict[Any, Any]) -> bool:
    """Whether the kernel can compute the outputs alone: each is in the graph, every task
    they need is a hit, and what lies between is glue over keys of this graph (finalize
    steps, containers, aliases, plain data). Not when an output or an input is held by the
    cluster (a persisted collection's futures, a scattered value): the scheduler has it."""
    from dask._task_spec import DataNode

    if not outputs or any(k not in graph for k in outputs):
        return False
    for k in needed:
        if k in hits:
            continue
        node = graph[k]
        if _memoizable(k, node) or any(d not in graph for d in node.dependencies):
            return False
        if isinstance(node, DataNode) and type(node.value) not in _PLAIN:
            return False
    return True


def _needed(graph: dict[Any, Any], outputs: set[Any], hits: dict[Any, Any]) -> list[Any]:
    """The keys the outputs need, a hit's own dependencies excepted (it is served, not run)."""
    keep: dict[Any, None] = {}
    stack = [k for k in outputs if k in graph]
    while stack:
        k = stack.pop()
        if k in keep:
            continue
        keep[k] = None
        if k not in hits:
            stack.extend(d for d in graph[k].dependencies if d in graph and d not in keep)
    return list(keep)


def _cut_hits(new: dict[Any, Any], outputs: set[Any], hits: dict[Any, Any]) -> dict[Any, Any]:
    """Hits served as data (``DataNode``) become literal arguments of the tasks that read
    them, and leave the graph: the scheduler neither stores nor ships them as tasks of their
    own. Kept as graph entries: the outputs (the caller asked for their keys), and a large
    hit read by several tasks (it would be copied into each)."""
    from dask._task_spec import DataNode, Task

    readers: dict[Any, list[Any]] = {}
    for k, node in new.items():
        for d in node.dependencies:
            if d in hits:
                readers.setdefault(d, []).append(k)
    cut: dict[Any, Any] = {}
    for d, ks in readers.items():
        node = new.get(d)
        if d in outputs or not isinstance(node, DataNode) or not all(type(new[k]) is Task for k in ks):
            continue
        if len(ks) > 1 and hits[d].size > _INLINE_SHARED_MAX:
            continue
        cut[d] = node
    if not cut:
        return new
    for k, node in new.items():
        if k not in cut and type(node) is Task and not node.dependencies.isdisjoint(cut.keys()):
            new[k] = node.substitute(cut)
    for d in cut:
        del new[d]
    return new


def _memoizable(k: Any, node: Any) -> bool:
    """Tasks that compute something: not data, aliases, containers (cheap glue),
    and not the finalize step of a collection (it only concatenates memoized parts)."""
    from dask._task_spec import Task

    if type(node) is not Task:
        return False
    name = k[0] if isinstance(k, tuple) else k
    return not (isinstance(name, str) and name.startswith("finalize-"))


def _downstream_of_recomputed(rt: task_runtime.TaskRuntime, graph: dict[Any, Any], decided: dict[Any, tuple[dict[str, Any], task_runtime.Stored | None]]) -> set[Any]:
    """The graph keys of hits whose upstream (in this graph, or an earlier one's) is computed
    again in this run; each is marked recomputed itself, so what reads it follows."""
    recomputed: set[Any] = set()
    if not rt.recomputed:
        return recomputed  # the common repeat: nothing recorded is computed again
    for k in _topological(graph):
        entry = decided.get(k)
        if entry is None or entry[1] is None:
            continue
        record = entry[0]
        why = rt.upstream_recomputed(record["upstream"])
        if why is not None:
            rt.mark_recomputed(record["key"], why)
            recomputed.add(k)
    return recomputed


def _record(k: Any, node: Any, key: str | Uncacheable, graph: dict[Any, Any], node_keys: dict[Any, str | Uncacheable], rt: task_runtime.TaskRuntime, arg_key: Callable[[Any], str], occurrence: task_runtime.Occurrence | None, names: dict[int, str] | None = None, node_args: dict[Any, list[str]] | None = None) -> dict[str, Any]:
    arg_keys: list[str] = []
    upstream: list[str] = []
    subgraph = _has_subgraph(node)
    if isinstance(key, str):
        # Positional arguments, then keyword arguments by name: what explanations compare.
        # A fused subgraph's arguments are its inputs (its inner graph is its code).
        known = node_args.get(k) if node_args is not None else None
        if known is not None:
            arg_keys = known
        else:
            args = [d for _, d in _subgraph_parts(node)[2]] if subgraph else node.args
            arg_keys = [arg_key(a) for a in args] + [arg_key(v) for _, v in sorted(node.kwargs.items())]
        for dep in sorted(node.dependencies, key=str):
            dk = node_keys.get(dep) if dep in graph else _produced.get(dep)
            if isinstance(dk, str):
                upstream.append(dk)
    fn = getattr(node.args[0].get(node.args[1]), "func", node.func) if subgraph else node.func
    return rt.record(ENGINE, fn, key, arg_keys, upstream, str(k), occurrence, names)


def _has_subgraph(node: Any) -> bool:
    """A fused task (blockwise fusion): ``Task.has_subgraph()`` from dask 2025.1 on."""
    return node.func is _subgraph_runner()


@functools.lru_cache(maxsize=1)
def _subgraph_runner() -> Any:
    from dask._task_spec import _execute_subgraph

    return _execute_subgraph


def _subgraph_parts(task: Any) -> tuple[dict[Any, Any], Any, list[tuple[Any, Any]]]:
    """A fused task's inner graph, output key and (inner key, argument) inputs.

    dask >= 2025.1: ``(inner, outkey, inkeys, *dependencies)``; dask 2024.12:
    ``(inner, outkey, Dict(explicit inputs), Dict(implicit inputs))``, each Dict a
    container task of ``Tuple(inner key, argument)`` items.
    """
    from dask._task_spec import Dict

    inner, outkey, inkeys, *deps = task.args
    if isinstance(inkeys, Dict):
        return inner, outkey, [tuple(item.args) for part in (inkeys, *deps) for item in part.args]  # type: ignore[misc]
    return inner, outkey, list(zip(inkeys, deps))


def _topological(graph: dict[Any, Any]) -> list[Any]:
    order: list[Any] = []
    state: dict[Any, int] = {}
    for root in graph:
        if root in state:
            continue
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            k, done = stack.pop()
            if done:
                state[k] = 2
                order.append(k)
                continue
            if state.get(k):
                continue
            state[k] = 1
            stack.append((k, True))
            for dep in graph[k].dependencies:
                if dep in graph and not state.get(dep):
                    stack.append((dep, False))
    return order


if "nbrewind_dask" not in sys.modules:  # imported under another name: keep one module state
    sys.modules["nbrewind_dask"] = sys.modules[__name__]
