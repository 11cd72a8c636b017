"""Task notes written by a worker process into its log while the kernel asks, task after
task, whether each note is there (what Parsl's completion callback does). Prints JSON."""

import json
import multiprocessing as mp
import os
import sys
import tempfile

from nbrewind.blob_store import BlobStore
from nbrewind.tasks import runtime
from nbrewind.tasks.worker import TASKLOG, write_note

store = tempfile.mkdtemp()
rt = runtime.current = runtime.TaskRuntime(BlobStore(store))
rt.begin_cell("c1")
logs = os.path.join(store, TASKLOG)
created: set[str] = set()


def worker(jobs: "mp.Queue[tuple[str, str] | None]", done: "mp.Queue[list[str]]") -> None:
    runtime.current = None  # another process: its notes go to a log, as on an HTEX worker
    while (job := jobs.get()) is not None:
        key, dispatch = job
        write_note(store, key, {"dispatch": dispatch, "status": "failed", "reason": "x"})
        done.put(os.listdir(logs))  # the log this note went to


jobs: "mp.Queue[tuple[str, str] | None]" = mp.Queue()
done: "mp.Queue[list[str]]" = mp.Queue()
proc = mp.get_context("fork").Process(target=worker, args=(jobs, done))
proc.start()
dispatches = []
arrived = []
for i in range(20):
    d = rt.new_dispatch()
    rt.dispatched(rt.record("test", len, f"{i:064x}", [], [], f"t{i}"), d)
    dispatches.append(d)
    jobs.put((f"{i:064x}", d))
    created.update(done.get(timeout=30))
    arrived.append(rt.note_arrived(d))
# One more note after the last question: the cell's end must still collect it.
d = rt.new_dispatch()
rt.dispatched(rt.record("test", len, "f" * 64, [], [], "last"), d)
jobs.put(("f" * 64, d))
done.get(timeout=30)
jobs.put(None)
proc.join(30)
tasks = rt.end_cell()["tasks"]
left = [n for n in os.listdir(logs) if n.endswith(".notes")]
print(json.dumps({
    "arrived": arrived,
    "logs_created": len([n for n in created if n.endswith(".notes")]),
    "recorded_failed": sum(1 for t in tasks if t["status"] == "failed"),
    "logs_left": left,
    "fds_held": len(getattr(rt, "_log_fds", {})),
}))
sys.stdout.flush()
