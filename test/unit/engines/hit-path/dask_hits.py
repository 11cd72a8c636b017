"""The Dask hit path, on the threaded scheduler and on a distributed client: an all-hit
graph is answered without the scheduler, a partly hit one sends the scheduler only its
misses, and occurrences keep their recorded samples. Prints one JSON object."""

from __future__ import annotations

import json
import os
import random
from typing import Any

from common import STORE, cell, known_from, statuses

import nbrewind_dask

nbrewind_dask.install()

import dask  # noqa: E402
from dask import delayed  # noqa: E402
from dask.callbacks import Callback  # noqa: E402

# Engine side: each task function appends its name to this file from wherever it runs
# (a distributed worker runs its own copy of the function: a list would not be shared).
COUNTER = os.path.join(STORE, "..", os.path.basename(STORE) + "-ran.log")


def note(name: str) -> None:
    with open(COUNTER, "a") as f:
        f.write(name + "\n")


def ran() -> list[str]:
    """What ran since the last call (and forget it)."""
    try:
        with open(COUNTER) as f:
            names = sorted(f.read().split())
    except FileNotFoundError:
        return []
    os.unlink(COUNTER)
    return names


def leaf(i: int, s: int) -> int:
    note("leaf")
    return i * s


def pair(a: int, b: int) -> int:
    note("pair")
    return a + b


def total(xs: list[int]) -> int:
    note("total")
    return sum(xs)


def sample(i: int) -> float:
    note("sample")
    return random.random() + i


def graph(scale_of: Any) -> Any:
    leaves = [delayed(leaf)(i, scale_of(i)) for i in range(8)]
    pairs = [delayed(pair)(leaves[2 * k], leaves[2 * k + 1]) for k in range(4)]
    return delayed(total)(pairs)


class LocalSeen(Callback):
    """Scheduler side (local schedulers): the graphs the scheduler is handed, by their keys."""

    def __init__(self) -> None:
        super().__init__()
        self.graphs: list[list[str]] = []

    def _start(self, dsk: Any) -> None:
        self.graphs.append(names(list(dsk)))


def names(keys: list[Any]) -> list[str]:
    return sorted(str(k[0] if isinstance(k, tuple) else k).split("-", 1)[0] for k in keys)


class Optimised:
    """Dask's own side before any scheduler: how many computations it turned into an
    expression to optimise (``collections_to_expr``, what ``dask.compute`` calls first)."""

    def __init__(self) -> None:
        import dask.base

        self.count = 0
        original = dask.base.collections_to_expr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        dask.base.collections_to_expr = counted

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def shaped(scale: int) -> tuple[Any, ...]:
    """Delayed objects inside plain containers, beside plain values, and a collection's own
    ``.compute()``: what ``dask.compute`` hands back in the shape it was given."""
    one = delayed(leaf)(100, scale)
    nested = dask.compute({"total": graph(lambda i: scale), "n": 1}, [one, "x"], 7, scheduler="threads")
    return (*nested, delayed(pair)(one, 1).compute(scheduler="threads"))


def threaded(out: dict[str, Any]) -> None:
    optimised = Optimised()

    def run(g: Any) -> tuple[Any, list[str], list[Any]]:
        ran()
        seen = LocalSeen()
        optimised.take()
        with seen:
            value = dask.compute(g, scheduler="threads")[0]
        return value, ran(), seen.graphs

    rt = cell()
    audited, audit_ran, _ = run(graph(lambda i: 2))
    samples_audit = dask.compute(*[delayed(sample, pure=False)(1) for _ in range(3)], scheduler="threads")
    shaped_audit = shaped(2)
    known = known_from(rt.end_cell()["tasks"])

    rt = cell(known)
    value, hit_ran, seen = run(graph(lambda i: 2))
    graph_optimised = optimised.take()
    samples_repeat = dask.compute(*[delayed(sample, pure=False)(1) for _ in range(3)], scheduler="threads")
    optimised.take()
    ran()
    shaped_repeat = shaped(2)
    out["threads_all_hit"] = {
        "same_value": value == audited,
        "engine_ran": hit_ran,
        "scheduler_graphs": seen,
        "records": statuses(rt.end_cell()["tasks"]),
        "samples_replayed_in_order": list(samples_repeat) == list(samples_audit) and len(set(samples_audit)) == 3,
    }
    # Answered before Dask optimises the graph: Dask's own graph work is not paid for hits.
    out["threads_before_optimising"] = {
        "graph_optimised": graph_optimised,
        "shapes_same": shaped_repeat == shaped_audit and shaped_audit[0] == {"total": audited, "n": 1},
        "shapes_ran": ran(),
        "shapes_optimised": optimised.take(),
    }

    rt = cell(known)
    value, part_ran, seen = run(graph(lambda i: 5 if i == 3 else 2))
    out["threads_partial"] = {
        "right_value": value == sum(i * (5 if i == 3 else 2) for i in range(8)),
        "engine_ran": part_ran,
        "scheduler_graphs": seen,
        "records": statuses(rt.end_cell()["tasks"]),
    }
    out["audit_ran"] = audit_ran


def distributed(out: dict[str, Any]) -> None:
    from dask.distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import SchedulerPlugin

    class SchedulerSeen(SchedulerPlugin):
        """Scheduler side: the graphs it is sent and the keys it computes."""

        def __init__(self) -> None:
            self.graphs = 0
            self.computed: list[Any] = []

        def update_graph(self, scheduler: Any, **kwargs: Any) -> None:
            self.graphs += 1

        def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
            if finish == "memory":
                self.computed.append(key)

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    client = Client(cluster)
    seen = SchedulerSeen()
    cluster.scheduler.add_plugin(seen)
    try:
        rt = cell()
        ran()
        audited = dask.compute(graph(lambda i: 2))[0]
        known = known_from(rt.end_cell()["tasks"])

        rt = cell(known)
        ran()
        seen.graphs, seen.computed = 0, []
        value = dask.compute(graph(lambda i: 2))[0]
        out["distributed_all_hit"] = {"same_value": value == audited, "engine_ran": ran(), "graphs_sent": seen.graphs, "records": statuses(rt.end_cell()["tasks"])}

        rt = cell(known)
        ran()
        seen.graphs, seen.computed = 0, []
        value = dask.compute(graph(lambda i: 5 if i == 3 else 2))[0]
        out["distributed_partial"] = {
            "right_value": value == sum(i * (5 if i == 3 else 2) for i in range(8)),
            "engine_ran": ran(),
            "scheduler_computed": names(seen.computed),
            "records": statuses(rt.end_cell()["tasks"]),
        }

        # Futures are engine-bound: client.compute still goes to the scheduler, its tasks served.
        rt = cell(known)
        ran()
        fut = client.compute(graph(lambda i: 2))
        out["distributed_futures"] = {"same_value": fut.result() == audited, "engine_ran": ran(), "is_future": type(fut).__name__}
        # A collection persisted on the cluster: its graph holds futures, which only the scheduler can answer.
        persisted = dask.persist(*[delayed(leaf)(i, 2) for i in range(3)])
        out["persisted_then_computed"] = list(dask.compute(*persisted))
        rt.end_cell()
    finally:
        client.close()
        cluster.close()


result: dict[str, Any] = {}
threaded(result)
distributed(result)
print(json.dumps(result))
