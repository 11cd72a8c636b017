"""Task memoization overhead, per engine, in one process (no Jupyter in the way).

    python bench/task_overhead.py [--engine dask] [--tasks 10000] [--scheduler distributed|threads]

For each engine it measures, in the same run:

  (a) audit overhead: N small tasks with the adapter recording and persisting
      every task, against the same engine with no adapter installed;
  (b) repeat: the same N tasks, every one a hit served from the store,
      against the engine actually running them (again without the adapter).

and prints both ratios. Engines register themselves in ENGINES below: a
function that returns a Workload (start the engine, run N tasks once, stop).
Run it with the managed env's python (``doctor`` prints its path); the
figures are noisy on a shared machine: say so with them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "engines", "python"))


@dataclass
class Workload:
    run: Callable[[], object]  # submit the N tasks, wait for every result
    stop: Callable[[], None]
    # Called once the adapter is installed, for engines it patches per runtime
    # (Parsl's memoizer goes onto each DataFlowKernel as it is created).
    restart: Callable[[], None] | None = None


# Seconds of (sleeping) work per task, --work-ms: 0 measures the pure per-task cost.
WORK_S = 0.0


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
        tasks = [delayed(square, pure=True)(i) for i in range(n)]
        return dask.compute(*tasks, scheduler=client if client is not None else scheduler)

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
    app = parsl.python_app(square)

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


ENGINES: dict[str, Callable[[int, str], Workload]] = {"dask": dask_workload, "parsl": parsl_workload, "ray": ray_workload}


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def install_adapter(engine: str) -> None:
    sys.path.insert(0, os.path.join(ROOT, "engines", engine))
    __import__(f"nbrewind_{engine}").install()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", default="dask", choices=sorted(ENGINES))
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--scheduler", default="distributed", help="dask: distributed|threads|processes|sync; parsl: htex|threads")
    ap.add_argument("--repeats", type=int, default=3, help="best of N for each measurement")
    ap.add_argument("--work-ms", type=float, default=0.0, help="each task sleeps this long: what a hit saves when tasks do work")
    args = ap.parse_args()
    global WORK_S
    WORK_S = args.work_ms / 1000

    from nbrewind.blob_store import BlobStore
    from nbrewind.tasks import runtime

    store_dir = tempfile.mkdtemp(prefix="nbrewind-bench-")
    workload = ENGINES[args.engine](args.tasks, args.scheduler)
    try:
        workload.run()  # warm up: worker start, imports
        baseline = min(timed(workload.run)[0] for _ in range(args.repeats))
        install_adapter(args.engine)  # patches the engine in place; no runtime yet = pass-through
        if workload.restart is not None:
            workload.restart()
        audits = []
        for _ in range(args.repeats):
            shutil.rmtree(store_dir, ignore_errors=True)
            os.makedirs(store_dir)
            runtime.current = runtime.TaskRuntime(BlobStore(store_dir))
            runtime.current.begin_cell("bench")
            # The cell's end is part of the audit: the kernel collects the workers' notes then.
            elapsed, (_, reply) = timed(lambda: (workload.run(), runtime.current.end_cell()))
            audits.append(elapsed)
            recorded = reply["tasks"]
        stored = sum(1 for t in recorded if t.get("result_digest"))
        memo = runtime.current.memo
        hits = []
        for _ in range(args.repeats):
            runtime.current = runtime.TaskRuntime(BlobStore(store_dir))
            runtime.current.memo = dict(memo)
            runtime.current.begin_cell("bench")
            elapsed, (_, reply) = timed(lambda: (workload.run(), runtime.current.end_cell()))
            hits.append(elapsed)
            served = sum(1 for t in reply["tasks"] if t["status"] == "hit")
        audit, repeat = min(audits), min(hits)
        runtime_label = {"dask": args.scheduler, "parsl": "htex" if args.scheduler == "htex" else "threads", "ray": "local, 2 CPUs"}[args.engine]
        work = f", {args.work_ms:g} ms of work each" if args.work_ms else ""
        print(f"{args.engine} ({runtime_label}), {args.tasks} tasks{work}, best of {args.repeats}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
        print(f"  engine alone              {baseline:8.3f} s")
        print(f"  audit (record + persist)  {audit:8.3f} s   ratio {audit / baseline:5.2f}  ({stored} results stored; target <= 1.10)")
        print(f"  repeat (every task a hit) {repeat:8.3f} s   ratio {repeat / baseline:5.2f}  ({served} served)")
    finally:
        runtime.current = None
        workload.stop()
        shutil.rmtree(store_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
