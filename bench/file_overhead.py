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
        t = time.perf_counter()
        body()
        return {"s": time.perf_counter() - t}
    sys.path.insert(0, os.path.join(ROOT, "engines", "python"))
    from nbrewind.blob_store import BlobStore
    from nbrewind.file_observer import observer

    store = BlobStore(os.path.join(folder, "nb.nbrewind", "blobs"))
    observer.configure(folder, [os.path.join(folder, "nb.nbrewind")], [], None)
    out = {}
    for label in ("first", "again"):
        t = time.perf_counter()
        observer.begin_cell()
        body()
        files = observer.end_cell(store)
        out[label] = time.perf_counter() - t
        assert files is not None and len(files["read"]) == n, len(files["read"]) if files else None
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
    t = time.perf_counter()
    dask.compute(*[delayed(read, pure=True)(p) for p in paths], scheduler=client if client is not None else scheduler)
    reply = runtime.current.end_cell()
    elapsed = time.perf_counter() - t
    with_files = sum(1 for r in reply["tasks"] if r.get("files", {}).get("read"))
    if client is not None:
        client.close()
        cluster.close()
    return {"s": elapsed, "tasks": len(reply["tasks"]), "with_files": with_files}


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
        plain, first, again = [], [], []
        for _ in range(args.reps):
            plain.append(run_child(["cell", cell_dir, str(args.files), "plain"])["s"])
            o = run_child(["cell", cell_dir, str(args.files), "observed"])
            first.append(o["first"])
            again.append(o["again"])
        p, f, a = statistics.median(plain), statistics.median(first), statistics.median(again)
        print(f"(a) a cell reading {args.files} small files, median of {args.reps}:")
        print(f"    without observation          {p:8.3f} s")
        print(f"    observed, files seen first   {f:8.3f} s   overhead {100 * (f / p - 1):6.1f}%  (every file stat'ed and hashed)")
        print(f"    observed, files seen before  {a:8.3f} s   overhead {100 * (a / p - 1):6.1f}%  (stat only; target <= 5%)")
        dask_dir = os.path.join(tmp, "dask")
        off, on = [], []
        reps = max(1, args.reps // 2)
        for _ in range(reps):
            off.append(run_child(["dask", dask_dir, str(args.tasks), args.scheduler], {"NBREWIND_OBSERVE_FILES": "0"})["s"])
            r = run_child(["dask", dask_dir, str(args.tasks), args.scheduler])
            on.append(r["s"])
            assert r["with_files"] == args.tasks, r
        o, n = statistics.median(off), statistics.median(on)
        print(f"(b) Dask ({args.scheduler}) audit of {args.tasks} tasks each reading one small file, median of {reps}:")
        print(f"    audit without file observation  {o:8.3f} s")
        print(f"    audit with file observation     {n:8.3f} s   overhead {100 * (n / o - 1):6.1f}%  (target <= 10%)")


if __name__ == "__main__":
    main()
