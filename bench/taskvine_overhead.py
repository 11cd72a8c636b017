"""TaskVine task memoization overhead, in one process (no Jupyter in the way).

    python bench/taskvine_overhead.py [--tasks 200] [--work-ms 1] [--rounds 3] [--kind function|python]

One TaskVine manager and one local vine_worker (2 cores) for the whole run.
Each round measures, interleaved (A/B/C, A/B/C, ...):
  A  the plain manager: N tasks, the adapter passing everything through (no runtime);
  B  audit: the same N tasks keyed, recorded and their results stored;
  C  repeat: the same N tasks, every one a hit served from the store;
and prints the medians, the ratios B/A (target <= 1.10) and C/A, with the
process's CPU time per phase and the load average. ``--kind function`` (the
default) runs FunctionCalls in a library (the way TaskVine runs short tasks);
``--kind python`` runs PythonTasks (one Python process per task on the worker).
Needs ndcctools on PYTHONPATH and vine_worker on PATH (bench/taskvine-overhead.ts
sets both from scripts/taskvine.sh). It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "engines", "python"))
sys.path.insert(0, os.path.join(ROOT, "engines", "taskvine"))

WORK_S = 0.001


def work(i: int) -> int:
    time.sleep(WORK_S)
    return i * i


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--work-ms", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kind", choices=["function", "python"], default="function")
    args = ap.parse_args()
    global WORK_S
    WORK_S = args.work_ms / 1000

    import nbrewind_taskvine

    nbrewind_taskvine.install()  # patches the Manager class; without a runtime it passes everything through
    import ndcctools.taskvine as vine
    from nbrewind.blob_store import BlobStore
    from nbrewind.tasks import runtime
    from nbrewind.tasks.runtime import Stored

    workdir = tempfile.mkdtemp(prefix="nbrewind-bench-taskvine-")
    os.chdir(workdir)
    m = vine.Manager(port=0)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    worker = subprocess.Popen(["vine_worker", "--single-shot", "--cores", "2", "-t", "120", "127.0.0.1", str(m.port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    if args.kind == "function":
        lib = m.create_library_from_functions("bench", work, add_env=False, exec_mode="direct")
        lib.set_cores(2)
        lib.set_function_slots(2)
        m.install_library(lib)

    def task(i: int) -> object:
        if args.kind == "function":
            return vine.FunctionCall("bench", "work", i)
        t = vine.PythonTask(work, i)
        t.set_cores(1)
        return t

    def run() -> int:
        for i in range(args.tasks):
            m.submit(task(i))
        total = 0
        while not m.empty():
            t = m.wait(5)
            if t is not None:
                assert t.successful(), (t.result, t.std_output)
                total += t.output
        assert total == sum(i * i for i in range(args.tasks)), total
        return total

    store_dir = os.path.join(workdir, "store")
    memo: dict[tuple[str | None, str, int], Stored] = {}

    def plain() -> None:
        runtime.current = None
        run()

    def audit() -> None:
        shutil.rmtree(store_dir, ignore_errors=True)
        os.makedirs(store_dir)
        runtime.current = rt = runtime.TaskRuntime(BlobStore(store_dir))
        rt.store_mode = "all"  # every result stored: the repeat serves them all
        rt.begin_cell("bench")
        run()
        reply = rt.end_cell()  # the cell's end is part of the audit: the notes are collected then
        memo.clear()
        for t in reply["tasks"]:
            pack = t.get("result_pack")
            memo[("bench", t["key"], t["occurrence"])] = Stored(t["result_digest"], t["result_size"], tuple(t.get("result_blobs", ())), (pack["digest"], pack["offset"]) if pack else None)
        assert len(memo) == args.tasks, f"{len(memo)} of {args.tasks} results recorded"

    served = [0]

    def repeat() -> None:
        runtime.current = rt = runtime.TaskRuntime(BlobStore(store_dir))
        rt.memo = dict(memo)
        rt.begin_cell("bench")
        run()
        served[0] = sum(1 for t in rt.end_cell()["tasks"] if t["status"] == "hit")

    def measured(fn: Callable[[], None]) -> tuple[float, float]:
        c0, t0 = cpu_s(), time.perf_counter()
        fn()
        return time.perf_counter() - t0, cpu_s() - c0

    try:
        plain()  # warm up: worker connection, library start, imports
        phases: dict[str, list[tuple[float, float]]] = {"plain": [], "audit": [], "repeat": []}
        loads = []
        for _ in range(args.rounds):
            for name, fn in (("plain", plain), ("audit", audit), ("repeat", repeat)):
                phases[name].append(measured(fn))
            loads.append(os.getloadavg()[0])
        wall = {k: statistics.median(w for w, _ in v) for k, v in phases.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in phases.items()}
        kind = "FunctionCalls in a library" if args.kind == "function" else "PythonTasks"
        print(f"taskvine ({kind}, 1 local vine_worker with 2 cores), {args.tasks} tasks of {args.work_ms:g} ms, median of {args.rounds} interleaved rounds, load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores:")
        print(f"  plain manager             {wall['plain']:8.3f} s   (manager-side CPU {cpu['plain']:.3f} s)")
        print(f"  audit (record + persist)  {wall['audit']:8.3f} s   ratio {wall['audit'] / wall['plain']:5.2f}  (CPU {cpu['audit']:.3f} s; target <= 1.10)")
        print(f"  repeat (every task a hit) {wall['repeat']:8.3f} s   ratio {wall['repeat'] / wall['plain']:5.2f}  (CPU {cpu['repeat']:.3f} s; {served[0]} served)")
    finally:
        runtime.current = None
        m._free()  # noqa: SLF001 - stop the manager, so the single-shot worker exits
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        # The worker's own children (its transfer server) can outlive it: end its whole session.
        try:
            os.killpg(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
