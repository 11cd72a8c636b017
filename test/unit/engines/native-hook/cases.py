"""The file observer's records of one scripted cell and two tasks, printed as JSON.

Run once with the C audit hook and once with NBREWIND_NATIVE_HOOK=0 (the Python
hook): native-hook.test.ts compares the two and checks what each recorded.
Usage: cases.py <package root> <work folder>
"""

import json
import os
import pathlib
import sys
import threading

root, work = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(root, "engines", "python"))

from nbrewind import native_hook  # noqa: E402
from nbrewind.blob_store import BlobStore  # noqa: E402
from nbrewind.file_observer import observed_call, observer  # noqa: E402

nb = os.path.join(work, "nb")
os.makedirs(os.path.join(nb, "data"), exist_ok=True)
for name in ("a.txt", "b.txt", "c.txt", "d.txt", "old.txt", "gone.txt", "t1.txt", "t2.txt"):
    with open(os.path.join(nb, "data", name), "w") as f:
        f.write(name * 3)
bundle = os.path.join(nb, "nb.nbrewind")
observer.configure(nb, [bundle], [], None)
store = BlobStore(os.path.join(bundle, "blobs"))
os.chdir(nb)

observer.begin_cell()
open(os.path.join(nb, "data", "a.txt")).read()  # absolute str: the hook's fast path
open("data/b.txt").read()  # relative: the slow half joins the folder
pathlib.Path(nb, "data", "c.txt").read_text()
open(os.fsencode(os.path.join(nb, "data", "d.txt")), "rb").read()  # bytes path
fd = os.open(os.path.join(nb, "data", "a.txt"), os.O_RDONLY)
os.fdopen(fd).read()  # a descriptor: seen at os.open, not again
with open("out/result.txt" if os.path.isdir("out") else "result.txt", "w") as f:
    f.write("result")
with open("log.txt", "a") as f:
    f.write("appended\n")
with open("scratch.txt", "w") as f:
    f.write("gone by the cell's end")
os.remove("scratch.txt")
os.rename("data/old.txt", "data/new.txt")
os.remove("data/gone.txt")
cell = observer.end_cell(store)

# Two tasks on two threads at once: each one's reads are its own, not the cell's.
tasks = {}
barrier = threading.Barrier(2)


def task(name):
    barrier.wait()
    with open(os.path.join(nb, "data", name)) as f:
        return f.read()


def run(name):
    _, files = observed_call(os.path.join(bundle, "blobs"), task, (name,), {})
    tasks[name] = sorted(os.path.relpath(e["path"], os.path.realpath(nb)) for e in files["read"])


observer.begin_cell()
threads = [threading.Thread(target=run, args=(n,)) for n in ("t1.txt", "t2.txt")]
for t in threads:
    t.start()
for t in threads:
    t.join()
around = observer.end_cell(store)


def names(entries):
    return sorted((e["path"], sorted(k for k in e if k in ("deleted", "appended"))) for e in entries)


print(json.dumps({
    "hook": observer.hook,
    "status": native_hook.status(),
    "cell": {"read": names(cell["read"]), "written": names(cell["written"])},
    "tasks": tasks,
    "cell_around_tasks": names(around["read"]),
}))
