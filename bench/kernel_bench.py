"""Driver of `npm run bench:kernel` (bench/kernel.ts installs the kernelspec and runs this).

Two measurements, each against plain ipykernel ("python3") in the same run:

1. latency: the same trivial execute ("1") on both kernels, alternating one
   execute on each, so that load drifting on a shared machine hits both alike;
   the added latency is the median of the per-pair differences.
2. run all: a notebook of cells doing real work (NumPy and Dask tasks) run
   top to bottom on plain ipykernel, then audited in the NBRewind kernel, then
   run again in a fresh NBRewind kernel with %audit off and no edit.
"""

import argparse
import json
import statistics
import sys
import time

from jupyter_client.manager import start_new_kernel


def run(kc, code, timeout=900):
    out = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    if reply["content"]["status"] != "ok":
        raise SystemExit(f"cell failed: {code[:60]!r}: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    return "".join(out)


def start(name):
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=120)
    return km, kc


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=False)


def latency(n):
    plain = start("python3")
    ours = start("nbrewind")
    try:
        for _ in range(30):
            run(plain[1], "1")
            run(ours[1], "1")
        a, b = [], []
        for _ in range(n):
            t = time.perf_counter()
            run(plain[1], "1")
            a.append(time.perf_counter() - t)
            t = time.perf_counter()
            run(ours[1], "1")
            b.append(time.perf_counter() - t)
    finally:
        stop(*plain)
        stop(*ours)
    diffs = [y - x for x, y in zip(a, b)]
    return {"plain_ms": statistics.median(a) * 1e3, "nbrewind_ms": statistics.median(b) * 1e3, "added_ms": statistics.median(diffs) * 1e3, "n": n}


def calibrate(work):
    """How many sorts of 200,000 floats take about `work` seconds here: a fixed count keeps every run's output the same."""
    import numpy as np

    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for _ in range(20):
        np.sort(rng.random(200_000))
    return max(1, round(work / ((time.perf_counter() - t) / 20)))


def notebook(cells, work):
    """Each cell does about `work` seconds of NumPy on this machine, or that much in Dask tasks."""
    iters = calibrate(work)
    out = [
        "import numpy as np, dask, time\n"
        "def burn(seed, _seconds):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    acc = 0.0\n"
        f"    for _ in range({iters}):\n"
        "        acc += float(np.sort(rng.random(200_000))[100_000])\n"
        "    return acc\n"
        "def task(i, seconds):\n"
        "    time.sleep(seconds)\n"
        "    return i * i"
    ]
    for i in range(cells):
        if i % 3 == 2:
            out.append(f"r{i} = sum(dask.compute(*[dask.delayed(task)(k, {work / 10}) for k in range(20)], scheduler='threads'))\nprint('cell {i}', r{i})")
        else:
            out.append(f"v{i} = burn({i}, {work})\nprint('cell {i}', round(v{i}, 3))")
    return out


def run_all(kernel, cells, prelude=(), switch=None):
    """Time the cells in a fresh kernel, after the prelude; `switch` is one more cell before them, timed on its own."""
    km, kc = start(kernel)
    try:
        for code in prelude:
            run(kc, code)
        switch_s = 0.0
        if switch:
            t = time.perf_counter()
            run(kc, switch)
            switch_s = time.perf_counter() - t
        outputs = []
        t = time.perf_counter()
        for code in cells:
            outputs.append(run(kc, code))
        elapsed = time.perf_counter() - t
    finally:
        stop(km, kc)
    return elapsed, outputs, switch_s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--executes", type=int, default=300)
    p.add_argument("--cells", type=int, default=9)
    p.add_argument("--work", type=float, default=1.0)
    p.add_argument("--notebook", required=True, help="a path whose NAME.nbrewind/ receives the bundle")
    p.add_argument("--json", required=True)
    a = p.parse_args()

    lat = latency(a.executes)
    cells = notebook(a.cells, a.work)
    bundle = f"%nbrewind bundle {a.notebook}"
    plain_s, plain_out, _ = run_all("python3", cells)
    audit_s, _, _ = run_all("nbrewind", cells, prelude=[bundle, "%audit on"])
    # The repeat's own first cell, the mode switch, is timed separately: it opens the bundle and greets the shim.
    repeat_s, outputs, switch_s = run_all("nbrewind", cells, prelude=[bundle], switch="%audit off")
    reused = sum("reused from the bundle" in o for o in outputs)
    same = all(o.split("[nbrewind]")[0] == po for o, po in zip(outputs, plain_out))
    result = {
        "latency": lat,
        "run_all": {"cells": len(cells), "plain_s": plain_s, "audit_s": audit_s, "repeat_s": repeat_s, "repeat_switch_s": switch_s, "reused": reused, "outputs_match": same},
    }
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
