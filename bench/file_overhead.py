"""File observation overhead (issue 10), in the managed env's Python, no Jupyter in the way.

    python bench/file_overhead.py [--files 10000] [--tasks 10000] [--reps 5] [--scheduler threads|distributed]

(a) a cell that opens and reads N small files: the cell's body timed in a
    process without any audit hook, against the same body with the cell
    observed (the hook collecting paths, then at the cell's end a stat and a
    sha256 of each file). Twice: a first observation (every file hashed) and
    a later one of the same, unchanged files (stat only: the digest cache).
(b) a Dask run of N tasks that each read one small file, recorded by the task
    adapter (audit): with file observation, against the same audit with
    NBREWIND_OBSERVE_FILES=0.

Each mode runs in its own child process, alternating, and the median is
kept. Prints both ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_files(folder: str, n: int) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(n):
        p = os.path.join(folder, f"f{i:05d}.txt")
        if not os.path.exists(p):
            with open(p, "w") as f:
                f.write(f"{i} " * 30)
        paths.append(p)
    return paths


def child_cell(folder: str, n: int, mode: str) -> dict[str, float]:
    paths = make_files(folder, n)

    def body() -> int:
        total = 0
        for p in paths:
            with open(p) as f:
                total += len(f.read())
        return total

    body()  # the page cache, as the baseline has it
    if mode == "plain":
        t, c = time.perf_counter(), time.process_time()
        body()
        return {"s": time.perf_counter() - t, "cpu": time.process_time() - c}
    sys.path.insert(0, os.path.join(ROOT, "engines", "python"))
    from nbrewind.blob_store import BlobStore
    from nbrewind.file_observer import observer

    store = BlobStore(os.path.join(folder, "nb.nbrewind", "blobs"))
    observer.configure(folder, [os.path.join(folder, "nb.nbrewind")], [], None)
    out = {}
    for label in ("first", "again"):
        t, c = time.perf_counter(), time.process_time()
        observer.begin_cell()
        body()
        hook_cpu = time.process_time() - c
        files = observer.end_cell(store)
        out[label] = time.perf_counter() - t
        out[label + "_cpu"] = time.process_time() - c
        out[label + "_hook_cpu"] = hook_cpu
        assert files is not None and len(files["read"]) == n, len(files["read"]) if files else None
    # What then goes to the control plane (post_cell's reply, JSON over the comm).
    c = time.process_time()
    out["json_bytes"] = len(json.dumps(files))
    out["json_cpu"] = time.process_time() - c
    return out


def child_dask(folder: str, n: int, scheduler: str) -> dict[str, float]:
    paths = make_files(folder, n)
    sys.path.insert(0, os.path.join(ROOT, "engines", "python"))
    sys.path.insert(0, os.path.join(ROOT, "engines", "dask"))
    import dask
    from dask import delayed

    import nbrewind_dask
    from nbrewind.blob_store import BlobStore
    from nbrewind.file_observer import observer
    from nbrewind.tasks import runtime

    nbrewind_dask.install()
    client = cluster = None
    if scheduler == "distributed":
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    observer.configure(folder, [os.path.join(folder, "nb.nbrewind")], [], None)

    def read(path: str) -> int:
        with open(path) as f:
            return len(f.read())

    store_dir = tempfile.mkdtemp(dir=folder, prefix="nb.nbrewind-")
    runtime.current = runtime.TaskRuntime(BlobStore(os.path.join(store_dir, "blobs")))
    runtime.current.begin_cell("bench")
    t, c = time.perf_counter(), time.process_time()
    dask.compute(*[delayed(read, pure=True)(p) for p in paths], scheduler=client if client is not None else scheduler)
    reply = runtime.current.end_cell()
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    with_files = sum(1 for r in reply["tasks"] if r.get("files", {}).get("read"))
    if client is not None:
        client.close()
        cluster.close()
    # cpu: this process's (all its threads); with --scheduler distributed the workers' is not in it.
    return {"s": elapsed, "cpu": cpu, "tasks": len(reply["tasks"]), "with_files": with_files}


def run_child(args: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    res = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if res.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scheduler", default="threads")
    ap.add_argument("--child", nargs="*")
    args = ap.parse_args()
    if args.child:
        kind, folder, n, mode = args.child
        out = child_cell(folder, int(n), mode) if kind == "cell" else child_dask(folder, int(n), mode)
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="nbrewind-bench-files-") as tmp:
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {os.cpu_count()} cores (shared machine: compare ratios from one run)")
        cell_dir = os.path.join(tmp, "cell")
        plains, observed = [], []
        for _ in range(args.reps):
            plains.append(run_child(["cell", cell_dir, str(args.files), "plain"]))
            observed.append(run_child(["cell", cell_dir, str(args.files), "observed"]))
        med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
        p, pc = med(plains, "s"), med(plains, "cpu")
        f, fc = med(observed, "first"), med(observed, "first_cpu")
        a, ac, hc = med(observed, "again"), med(observed, "again_cpu"), med(observed, "again_hook_cpu")
        print(f"(a) a cell reading {args.files} small files, median of {args.reps} (wall; CPU of the process):")
        print(f"    without observation          {p:8.3f} s  cpu {pc:7.3f} s")
        print(f"    observed, files seen first   {f:8.3f} s  cpu {fc:7.3f} s   overhead {100 * (f / p - 1):6.1f}% wall, {100 * (fc / pc - 1):6.1f}% cpu  (every file stat'ed and hashed)")
        print(f"    observed, files seen before  {a:8.3f} s  cpu {ac:7.3f} s   overhead {100 * (a / p - 1):6.1f}% wall, {100 * (ac / pc - 1):6.1f}% cpu  (stat only; target <= 5%)")
        print(f"      of which the audit hook during the body: cpu {100 * (hc / pc - 1):6.1f}%; the cell's end (a stat per file, naming, digests): cpu {100 * (ac - hc) / pc:6.1f}%")
        print(f"      the files' JSON for the control plane: {med(observed, 'json_bytes') / 1e6:.2f} MB, cpu {1000 * med(observed, 'json_cpu'):.1f} ms to encode")
        print(f"    load average now {os.getloadavg()[0]:.1f}")
        dask_dir = os.path.join(tmp, "dask")
        off, on = [], []
        reps = max(1, args.reps // 2)
        for _ in range(reps):
            off.append(run_child(["dask", dask_dir, str(args.tasks), args.scheduler], {"NBREWIND_OBSERVE_FILES": "0"}))
            r = run_child(["dask", dask_dir, str(args.tasks), args.scheduler])
            on.append(r)
            assert r["with_files"] == args.tasks, r
        o, n = med(off, "s"), med(on, "s")
        oc, nc = med(off, "cpu"), med(on, "cpu")
        print(f"(b) Dask ({args.scheduler}) audit of {args.tasks} tasks each reading one small file, median of {reps} (wall; CPU of the process):")
        print(f"    audit without file observation  {o:8.3f} s  cpu {oc:7.3f} s")
        print(f"    audit with file observation     {n:8.3f} s  cpu {nc:7.3f} s   overhead {100 * (n / o - 1):6.1f}% wall, {100 * (nc / oc - 1):6.1f}% cpu  (target <= 10%)")
        print(f"    load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
