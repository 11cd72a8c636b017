"""Raw floor for the run benchmark: jupyter_client straight over ZeroMQ.

No Jupyter Server, no websocket, no notebook written: start the kernel, then
execute the code cells of NOTEBOOK one after another with
``KernelClient.execute_interactive`` (which, like nbclient and nbrewind, waits
for the reply *and* the idle status), PASSES times over, so that one noisy
moment on a shared machine does not decide the floor. Prints one JSON object
on stdout:

  kernel_start_s   time to start the kernel and see it ready
  cell_ms          per pass, the client-side wall time of each execute
  timing           per pass and cell, the kernel's busy / idle timestamps, in
                   the shape of cell.metadata.execution in an executed
                   notebook, so the bench computes kernel-clock figures the
                   same way as for the two tools

Usage: python bench/zmq_floor.py NOTEBOOK [KERNEL_NAME [PASSES]]
"""

from __future__ import annotations

import datetime
import json
import sys
import time

import nbformat
from jupyter_client.manager import start_new_kernel


def iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def main() -> None:
    nb = nbformat.read(sys.argv[1], as_version=4)
    kernel_name = sys.argv[2] if len(sys.argv) > 2 else "python3"
    passes = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    cells = [c.source for c in nb.cells if c.cell_type == "code" and c.source.strip()]

    t0 = time.perf_counter()
    km, kc = start_new_kernel(kernel_name=kernel_name)
    kernel_start_s = time.perf_counter() - t0
    try:
        # The first executes of a fresh kernel pay one-off costs (imports in
        # IPython's machinery); the bench's notebooks pay them too, but here we
        # want the steady state, so warm up outside the timed loop.
        for _ in range(3):
            kc.execute_interactive("pass", output_hook=lambda _msg: None, timeout=30)

        cell_ms: list[list[float]] = []
        timing: list[list[dict[str, str]]] = []
        for _ in range(passes):
            cell_ms.append([])
            timing.append([])
            for code in cells:
                marks: dict[str, str] = {}

                def hook(msg: dict, marks: dict[str, str] = marks) -> None:
                    if msg["header"]["msg_type"] == "status":
                        marks[f"iopub.status.{msg['content']['execution_state']}"] = iso(msg["header"]["date"])

                start = time.perf_counter()
                reply = kc.execute_interactive(code, output_hook=hook, timeout=30)
                cell_ms[-1].append((time.perf_counter() - start) * 1000)
                if reply["content"]["status"] != "ok":
                    raise SystemExit(f"zmq floor: cell failed: {reply['content']}")
                timing[-1].append(marks)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    json.dump({"kernel_start_s": kernel_start_s, "cell_ms": cell_ms, "timing": timing}, sys.stdout)


if __name__ == "__main__":
    main()
