"""Task memoization overhead, per engine, in one process (no Jupyter in the way).

    python bench/task_overhead.py [--engine dask] [--scheduler distributed|threads]
        [--tasks 2000] [--reps 3] [--work-ms 0] [--profile audit|repeat] [--json]

For one engine it measures, interleaved in the same run (engine, audit, repeat,
engine, audit, repeat, ... medians kept):

  engine:  N tasks with the adapter installed but no runtime (what a plain kernel
           pays: the adapter's pass-through check), the baseline of both ratios;
  audit:   the same N tasks with the adapter keying, recording and persisting
           every task into a temporary store, the cell's end included;
  repeat:  the same N tasks, every one a hit served from that store (the memo
           table filled from the audit's records as the kernel fills it from a
           bundle), the cell's end included;

and, once before the adapter is installed, the engine with no adapter at all
(the true floor: the pass-through check costs nothing measurable). Each figure
has its wall time and this process's CPU time (user + system; Dask distributed
and Ray run tasks in other processes, so that CPU is the kernel's side only).
The repeat's results are checked against the engine's: a wrong or partial
answer is reported as such, never as a speed-up.

``--profile audit|repeat`` runs one more audit or repeat under cProfile and
prints where its time went. Engines register themselves in ENGINES below: a
function that returns a Workload (start the engine, run N tasks once, stop).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The adapters measured: this checkout's, or another's (NBREWIND_BENCH_ENGINES=<checkout>/engines)
# to compare two versions with the same script.
ENGINES_DIR = os.environ.get("NBREWIND_BENCH_ENGINES") or os.path.join(ROOT, "engines")
sys.path.insert(0, os.path.join(ENGINES_DIR, "python"))
# Ray starts its workers from the raylet, which inherits this environment, not sys.path.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.join(ENGINES_DIR, "python"), os.environ.get("PYTHONPATH")) if p)


@dataclass
class Workload:
    run: Callable[[], object]  # submit the N tasks, wait for every result
    stop: Callable[[], None]
    # Called once the adapter is installed, for engines it patches per runtime
    # (Parsl's memoizer goes onto each DataFlowKernel as it is created).
    restart: Callable[[], None] | None = None


# Seconds of (sleeping) work per task, --work-ms: 0 measures the pure per-task cost.
WORK_S = 0.0
# Dask: delayed(square, pure=True) (--pure) tokenizes the function and argument of every
# call (cloudpickle), in the notebook's own code, before the engine or the adapter see it.
PURE = False
# Dask: the wall time of each dask.compute call alone (the graph handed over to the result
# returned), without building the delayed objects: what the engine and the adapter cost.
COMPUTE_S: list[float] = []


def square(x: int) -> int:
    if WORK_S:
        time.sleep(WORK_S)
    return x * x


def dask_workload(n: int, scheduler: str) -> Workload:
    import dask
    from dask import delayed

    client = cluster = None
    if scheduler == "distributed":
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)

    def run() -> object:
        tasks = [delayed(square, pure=PURE)(i) for i in range(n)]
        t0 = time.perf_counter()
        out = list(dask.compute(*tasks, scheduler=client if client is not None else scheduler))
        COMPUTE_S.append(time.perf_counter() - t0)
        return out

    def stop() -> None:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    return Workload(run, stop)


def ray_workload(n: int, scheduler: str) -> Workload:
    """N remote calls of ``square`` on a local Ray with 2 CPUs (``scheduler`` is unused)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    remote_square = ray.remote(square)

    def run() -> object:
        return ray.get([remote_square.remote(i) for i in range(n)])

    return Workload(run, ray.shutdown)


def parsl_workload(n: int, scheduler: str) -> Workload:
    """N ``python_app`` calls of ``square`` on Parsl: --scheduler htex (HighThroughputExecutor,
    LocalProvider, 2 workers) or anything else for the ThreadPoolExecutor with 2 threads."""
    import parsl
    from parsl.config import Config

    def config() -> Config:
        if scheduler == "htex":
            from parsl.executors import HighThroughputExecutor
            from parsl.providers import LocalProvider

            executor = HighThroughputExecutor(label="htex", max_workers_per_node=2, provider=LocalProvider(init_blocks=1, max_blocks=1))
        else:
            from parsl.executors import ThreadPoolExecutor

            executor = ThreadPoolExecutor(label="threads", max_threads=2)
        return Config(executors=[executor], run_dir=tempfile.mkdtemp(prefix="nbrewind-bench-parsl-"))

    state = {"dfk": parsl.load(config())}
    # HTEX workers get the function's code, not this script's globals: the sleep travels as a default.
    _square_shipped.__defaults__ = (WORK_S,)
    app = parsl.python_app(_square_shipped if scheduler == "htex" else square)

    def run() -> object:
        return [f.result() for f in [app(i) for i in range(n)]]

    def stop() -> None:
        state["dfk"].cleanup()
        parsl.clear()

    def restart() -> None:
        stop()
        state["dfk"] = parsl.load(config())
        run()  # warm the new executor as the first one was

    return Workload(run, stop, restart)


def _square_shipped(x: int, work_s: float = 0.0) -> int:
    if work_s:
        import time

        time.sleep(work_s)
    return x * x


ENGINES: dict[str, Callable[[int, str], Workload]] = {"dask": dask_workload, "parsl": parsl_workload, "ray": ray_workload}


@dataclass
class Sample:
    wall: float
    cpu: float
    # CPU of this process and every process under it (Ray's raylet and workers, Dask's and
    # HTEX's worker processes): on 2 shared cores a wall ratio moves by +-0.1 between identical
    # runs, while what the audit adds to the whole tree's CPU is steadier.
    tree: float = float("nan")


def cpu_now() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def tree_cpu() -> float:
    """CPU seconds of this process and its descendants alive now (NaN without psutil)."""
    try:
        import psutil
    except ImportError:
        return float("nan")
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue  # exited meanwhile
        total += times.user + times.system
    return total


def timed(fn: Callable[[], Any]) -> tuple[Sample, Any]:
    tree0 = tree_cpu()
    c0, t0 = cpu_now(), time.perf_counter()
    out = fn()
    wall, cpu = time.perf_counter() - t0, cpu_now() - c0
    return Sample(wall, cpu, tree_cpu() - tree0), out


# Dask: seconds spent in the adapter's graph rewrite (keys, lookups, loads, the answer
# computed here), per dask.compute: what serving the hits costs the kernel itself.
REWRITE_S: list[float] = []
# The same, in this thread's CPU time: what a loaded machine's waiting for a core does not inflate.
REWRITE_CPU_S: list[float] = []


def install_adapter(engine: str) -> None:
    sys.path.insert(0, os.path.join(ENGINES_DIR, engine))
    adapter = __import__(f"nbrewind_{engine}")
    adapter.install()
    if engine == "dask":
        # The graph rewrite, and (adapters that have it) the answer taken over from dask.compute
        # before Dask optimises the graph, which keys the graph and then calls the rewrite:
        # the outermost call is timed.
        depth = [0]

        def timed(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                depth[0] += 1
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return original(*args, **kwargs)
                finally:
                    depth[0] -= 1
                    if depth[0] == 0:
                        REWRITE_S.append(time.perf_counter() - t0)
                        REWRITE_CPU_S.append(time.thread_time() - c0)

            return call

        for name in ("rewrite", "_answer_delayed"):
            if hasattr(adapter, name):
                setattr(adapter, name, timed(getattr(adapter, name)))


def known_from(records: list[dict[str, Any]]) -> list[tuple[str, str | None, int, Any]]:
    """What the kernel is handed from a bundle (``tasks_known``): the stored results of the records."""
    from nbrewind.tasks.runtime import Stored

    known = []
    for t in records:
        if t.get("result_digest") and t["status"] != "hit":
            pack = t.get("result_pack")
            stored = Stored(t["result_digest"], t["result_size"], tuple(t.get("result_blobs", ())), (pack["digest"], pack["offset"]) if pack else None)
            known.append((t["key"], t.get("cell_id"), t["occurrence"], stored))
    return known


def median(samples: list[Sample]) -> Sample:
    return Sample(statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples), statistics.median(s.tree for s in samples))


def profiled(fn: Callable[[], Any], limit: int = 30) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    # Ours alone: what the adapters and the runtime add (the engine's own lines are above).
    stats.sort_stats("cumulative").print_stats(r"nbrewind", limit)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", default="dask", choices=sorted(ENGINES))
    ap.add_argument("--tasks", type=int, default=2_000)
    ap.add_argument("--scheduler", default="distributed", help="dask: distributed|threads|processes|sync; parsl: htex|threads")
    ap.add_argument("--reps", "--repeats", type=int, default=3, help="interleaved repetitions (medians kept)")
    ap.add_argument("--work-ms", type=float, default=0.0, help="each task sleeps this long: what a hit saves when tasks do work")
    ap.add_argument("--pure", action="store_true", help="dask: delayed(square, pure=True), tokenized per call")
    ap.add_argument("--profile", choices=("audit", "repeat"), help="also print a cProfile of one audit or repeat")
    ap.add_argument("--json", action="store_true", help="print one JSON line of the figures last")
    args = ap.parse_args()
    global WORK_S, PURE
    WORK_S = args.work_ms / 1000
    PURE = args.pure

    from nbrewind.blob_store import BlobStore
    from nbrewind.tasks import runtime

    store_dir = tempfile.mkdtemp(prefix="nbrewind-bench-")
    workload = ENGINES[args.engine](args.tasks, args.scheduler)
    loads = [os.getloadavg()[0]]
    known: list[tuple[str, str | None, int, Any]] = []
    problems: list[str] = []

    def engine_alone() -> object:
        runtime.current = None
        return workload.run()

    def audit() -> list[dict[str, Any]]:
        shutil.rmtree(store_dir, ignore_errors=True)
        os.makedirs(store_dir)
        rt = runtime.current = runtime.TaskRuntime(BlobStore(store_dir))
        rt.begin_cell("bench")
        workload.run()
        # The cell's end is part of the audit: the kernel collects the workers' notes then.
        return rt.end_cell()["tasks"]  # type: ignore[no-any-return]

    def repeat() -> tuple[object, list[dict[str, Any]]]:
        rt = runtime.current = runtime.TaskRuntime(BlobStore(store_dir))
        rt.load_known(known)
        rt.begin_cell("bench")
        out = workload.run()
        return out, rt.end_cell()["tasks"]

    samples: dict[str, list[Sample]] = {"engine": [], "audit": [], "repeat": []}
    computes: dict[str, list[float]] = {"engine": [], "audit": [], "repeat": []}

    rewrites: list[float] = []
    rewrites_cpu: list[float] = []

    def measure(mode: str, fn: Callable[[], Any]) -> Any:
        COMPUTE_S.clear()
        REWRITE_S.clear()
        REWRITE_CPU_S.clear()
        s, out = timed(fn)
        samples[mode].append(s)
        if COMPUTE_S:
            computes[mode].append(COMPUTE_S[-1])
        if mode == "repeat" and REWRITE_S:
            rewrites.append(sum(REWRITE_S))
            rewrites_cpu.append(sum(REWRITE_CPU_S))
        return out

    served = stored = 0
    try:
        expected = workload.run()  # warm up: worker start, imports
        floor, _ = timed(workload.run)
        install_adapter(args.engine)  # patches the engine in place; no runtime = pass-through
        if workload.restart is not None:
            workload.restart()
        for _ in range(args.reps):
            measure("engine", engine_alone)
            recorded = measure("audit", audit)
            stored = sum(1 for t in recorded if t.get("result_digest"))
            known = known_from(recorded)
            out, replayed = measure("repeat", repeat)
            served = sum(1 for t in replayed if t["status"] == "hit")
            if out != expected:
                problems.append("the repeat's results differ from the engine's")
            loads.append(os.getloadavg()[0])
        if args.profile == "audit":
            print(profiled(audit))
        elif args.profile == "repeat":
            print(profiled(repeat))
    finally:
        runtime.current = None
        workload.stop()
        shutil.rmtree(store_dir, ignore_errors=True)

    engine, aud, rep = (median(samples[k]) for k in ("engine", "audit", "repeat"))
    if served != args.tasks:
        problems.append(f"{served} of {args.tasks} tasks served at repeat")
    label = {"dask": args.scheduler, "parsl": "htex" if args.scheduler == "htex" else "threads", "ray": "local, 2 CPUs"}[args.engine]
    work = f"{args.work_ms:g} ms task" if args.work_ms else "empty task"
    print(f"{args.engine} ({label}), {args.tasks} tasks, {work}, median of {args.reps} interleaved, load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores:")
    print(f"  engine, no adapter         {floor.wall:8.3f} s  cpu {floor.cpu:7.3f} s  (once, before the adapter was installed)")
    print(f"  engine, adapter idle       {engine.wall:8.3f} s  cpu {engine.cpu:7.3f} s  (the baseline)")
    print(f"  audit (record + persist)   {aud.wall:8.3f} s  cpu {aud.cpu:7.3f} s  ratio {aud.wall / engine.wall:5.2f}  ({stored} results stored; target <= 1.10)")
    print(f"  repeat (every task a hit)  {rep.wall:8.3f} s  cpu {rep.cpu:7.3f} s  ratio {rep.wall / engine.wall:5.2f}  ({served} served, {served / rep.wall:,.0f} hits/s; target <= 0.20)")
    print(f"  CPU of the process tree (kernel and the engine's own processes): engine {engine.tree:.3f} s, audit {aud.tree:.3f} s "
          f"(+{aud.tree - engine.tree:.3f} s, ratio {aud.tree / engine.tree:.2f}), repeat {rep.tree:.3f} s (ratio {rep.tree / engine.tree:.2f})")
    compute = {k: statistics.median(v) for k, v in computes.items() if v}
    if len(compute) == 3:
        print(f"  dask.compute alone: engine {compute['engine']:.3f} s, audit {compute['audit']:.3f} s (ratio {compute['audit'] / compute['engine']:.2f}), "
              f"repeat {compute['repeat']:.3f} s (ratio {compute['repeat'] / compute['engine']:.2f}, {served / compute['repeat']:,.0f} hits/s)")
    in_adapter = statistics.median(rewrites) if rewrites else None
    in_adapter_cpu = statistics.median(rewrites_cpu) if rewrites_cpu else None
    if in_adapter:
        cpu_rate = f"; by CPU time {in_adapter_cpu:.3f} s, {served / in_adapter_cpu:,.0f} hits/s" if in_adapter_cpu else ""
        print(f"  hits served by the adapter (keys, lookups, loads, the answer): {in_adapter:.3f} s, {served / in_adapter:,.0f} hits/s{cpu_rate} (target >= 20,000)")
    for p in problems:
        print(f"  PROBLEM: {p}")
    if args.json:
        figures = {
            "engine": args.engine, "runtime": label, "tasks": args.tasks, "work_ms": args.work_ms, "reps": args.reps,
            "load": [min(loads), max(loads)], "floor": floor.__dict__, "baseline": engine.__dict__, "audit": aud.__dict__, "repeat": rep.__dict__,
            "audit_ratio": aud.wall / engine.wall, "repeat_ratio": rep.wall / engine.wall, "audit_tree_cpu_added": aud.tree - engine.tree, "hits_per_s": served / rep.wall,
            "served": served, "stored": stored, "problems": problems, "pure": PURE, "compute": compute, "adapter_s": in_adapter, "adapter_cpu_s": in_adapter_cpu,
            "runs": {k: [s.__dict__ for s in v] for k, v in samples.items()},
        }
        print("JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
