"""The Parsl hit path on a thread pool: an all-hit repeat completes every AppFuture with its
recorded value without the DFK launching it (the executor is never handed a task), task ids
still count up, apps that take those futures work, and a hit whose input is a future still
running goes through the DFK as before. Prints one JSON object."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from common import cell, known_from, statuses

import nbrewind_parsl

nbrewind_parsl.install()

import parsl  # noqa: E402
from parsl.config import Config  # noqa: E402
from parsl.dataflow.states import States  # noqa: E402
from parsl.executors import ThreadPoolExecutor  # noqa: E402

dfk = parsl.load(Config(executors=[ThreadPoolExecutor(label="threads", max_threads=2)], run_dir=tempfile.mkdtemp(prefix="nbrewind-parsl-")))
executor = dfk.executors["threads"]
handed: list[str] = []  # executor side: every task the DFK launched
launch = executor.submit


def counting_submit(func: Any, resource_specification: Any, *args: Any, **kwargs: Any) -> Any:
    handed.append(getattr(func, "__name__", "?"))
    return launch(func, resource_specification, *args, **kwargs)


executor.submit = counting_submit
# slow() waits while this file is missing (a threading.Event read by the app would make it uncached).
GATE = tempfile.mktemp(prefix="nbrewind-gate-")


def open_gate() -> None:
    open(GATE, "w").close()


def close_gate() -> None:
    if os.path.exists(GATE):
        os.unlink(GATE)


@parsl.python_app
def square(x: int) -> int:
    return x * x


@parsl.python_app
def add(a: int, b: int) -> int:
    return a + b


@parsl.python_app
def slow(x: int) -> int:
    import os
    import time

    for _ in range(6000):
        if os.path.exists(GATE):
            break
        time.sleep(0.01)
    return x


def workflow() -> tuple[list[Any], Any]:
    squares = [square(i) for i in range(5)]
    return squares, add(squares[0], squares[4])


out: dict[str, Any] = {}
try:
    rt = cell()
    squares, total = workflow()
    open_gate()
    audited = [f.result() for f in squares], total.result(), add(slow(3), 4).result()
    records = rt.end_cell()["tasks"]
    known = known_from(records)

    rt = cell(known)
    handed.clear()
    memo_done = dfk.task_state_counts[States.memo_done]
    first = dfk.task_count
    squares, total = workflow()
    out["all_hit"] = {
        "done_at_once": all(f.done() for f in [*squares, total]),
        "same_values": ([f.result() for f in squares], total.result()) == audited[:2],
        "executor_handed": list(handed),
        "ids_count_up": [f.tid for f in [*squares, total]] == list(range(first, first + 6)) and dfk.task_count == first + 6,
        "memo_done_counted": dfk.task_state_counts[States.memo_done] - memo_done,
        "records": statuses(rt.end_cell()["tasks"]),
    }

    # slow(3)'s result was not kept (as the storage policy may decide): it runs again, and
    # add(slow(3), 4), a hit, must wait for it as Parsl makes it wait, not complete at once.
    slow_key = next(t["key"] for t in records if t["function"].endswith(".slow"))
    rt = cell([k for k in known if k[0] != slow_key])
    handed.clear()
    close_gate()
    blocked = add(slow(3), 4)
    waited = not blocked.done()
    open_gate()
    out["pending_input"] = {"waited": waited, "same_value": blocked.result() == audited[2], "executor_handed": list(handed), "records": statuses(rt.end_cell()["tasks"])}
finally:
    open_gate()
    dfk.cleanup()
    parsl.clear()
    os.unlink(GATE)
print(json.dumps(out))
