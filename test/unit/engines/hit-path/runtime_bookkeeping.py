"""The task runtime's own bookkeeping, without an engine: what a cell reports after an
adapter gave up on a submission, and what a lookup of a recorded task whose read file
changed costs. Prints one JSON object."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import common

from nbrewind import task_files
from nbrewind.tasks import runtime
from nbrewind.tasks.worker import persist_result

out: dict[str, Any] = {}

# An adapter records a dispatch, then fails before the submission is done (EngineGuard.attempt):
# it forgets what it recorded and hands the submission to the engine unchanged. Should a note of
# the forgotten dispatch turn up all the same (its wrapped task had reached a worker), the cell
# must not report the task: the user's submission ran unmemoized, as the summary says.
rt = common.cell()
mark = rt.mark()
record = rt.record("dask", len, "k-forgotten", [], [], "x", rt.submission("k-forgotten"))
dispatch = rt.new_dispatch()
rt.dispatched(record, dispatch)
rt.forget_since(mark)
persist_result(rt.blobs_dir, "k-forgotten", dispatch, 42, 0.01)
out["forgotten_reported"] = [t["key"] for t in rt.end_cell()["tasks"]]

# A recorded task whose read file changed since: a miss, with the file as its reason, after one
# look at its recorded reads (a stat each), not two.
path = os.path.join(common.STORE, "part1.csv")
with open(path, "w") as f:
    f.write("1,2\n")
st = os.stat(path)
task_files.load_known({"k-reader": {"read": [{"path": path, "size": st.st_size, "mtime_ns": str(st.st_mtime_ns), "sha256": hashlib.sha256(b"1,2\n").hexdigest()}], "written": []}})
with open(path, "w") as f:
    f.write("1,3\n")
rt = common.cell([("k-reader", "c1", 0, runtime.Stored("0" * 64, 4))])
looks = [0]
_reads_changed = task_files.reads_changed


def counting(key: str) -> str | None:
    looks[0] += 1
    return _reads_changed(key)


task_files.reads_changed = counting  # type: ignore[assignment]
hit = rt.lookup("k-reader", rt.submission("k-reader"))
out["changed_read"] = {"hit": hit is not None, "reason": rt.recompute_reason("k-reader"), "reads_checked": looks[0]}
print(json.dumps(out))
