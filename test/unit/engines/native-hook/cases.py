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
from nbrewind import file_observer  # noqa: E402
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

# A cell reading many files it never read before: recorded through the C batch (stat and
# sha256 in one pass, file_digests.c) when it is built, else one file at a time in Python.
# A low hash limit sends the larger files to hashlib, as files over 1 MiB are.
file_observer._BATCH_HASH_LIMIT = 3000
many = os.path.join(nb, "many")
os.makedirs(os.path.join(many, "folder"), exist_ok=True)
for i in range(120):
    with open(os.path.join(many, f"f{i:03d}.bin"), "wb") as f:
        f.write(bytes((i * 7 + j) % 251 for j in range(i * 37)))  # 0 bytes to 4.4 KB: empty, sub-block, multi-block, over the limit
os.symlink(os.path.join(many, "f005.bin"), os.path.join(many, "link.bin"))
os.mkfifo(os.path.join(many, "pipe"))
with open(os.path.join(many, "seeded.bin"), "wb") as f:
    f.write(b"seeded")
st = os.stat(os.path.join(many, "seeded.bin"))
# A seed with the file's exact stat is taken as the file's digest (the planner hashed it): the
# record shows the seed's digest, so this one is told apart from a hash of the content.
observer.seed_digests({"many/seeded.bin": {"stamp": f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_dev}", "sha256": "5eed" * 16}})
observer.begin_cell()
for name in sorted(os.listdir(many)):
    path = os.path.join(many, name)
    if name in ("pipe", "folder"):
        observer._hook("open", (path, "r", os.O_RDONLY))  # seen opened (a reader of a pipe would block here)
        continue
    with open(path, "rb") as f:
        f.read()
with open(os.path.join(many, "brief.bin"), "w") as f:
    f.write("read, then gone")
open(os.path.join(many, "brief.bin")).read()
os.remove(os.path.join(many, "brief.bin"))
batch = observer.end_cell(store)


def names(entries):
    return sorted((e["path"], sorted(k for k in e if k in ("deleted", "appended"))) for e in entries)


print(json.dumps({
    "hook": observer.hook,
    "status": native_hook.status(),
    "files_status": native_hook.files_status(),
    "batch": sorted((e["path"], e["size"], e["sha256"]) for e in batch["read"]),
    "cell": {"read": names(cell["read"]), "written": names(cell["written"])},
    "tasks": tasks,
    "cell_around_tasks": names(around["read"]),
}))
