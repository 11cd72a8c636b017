"""A fresh observer given the planner's seeds reads the files of a cell; prints which it hashed.

Usage: cases.py <package root> <notebook folder> <seeds JSON file> <file> [<file> ...]
"""

import json
import os
import sys

root, folder, seeds_file, *names = sys.argv[1:]
sys.path.insert(0, os.path.join(root, "engines", "python"))

from nbrewind import file_observer  # noqa: E402
from nbrewind.blob_store import BlobStore  # noqa: E402

hashed = []
real_hash = file_observer._hash_file  # noqa: SLF001


def counting_hash(path):
    hashed.append(os.path.relpath(path, os.path.realpath(folder)))
    return real_hash(path)


file_observer._hash_file = counting_hash  # noqa: SLF001
obs = file_observer.FileObserver()
bundle = os.path.join(folder, "nb.nbrewind")
obs.configure(folder, [bundle], [], None)
with open(seeds_file) as f:
    obs.seed_digests(json.load(f))
os.chdir(folder)
obs.begin_cell()
for name in names:
    with open(name, "rb") as f:
        f.read()
got = obs.end_cell(BlobStore(os.path.join(bundle, "blobs")))
print(json.dumps({"hashed": sorted(hashed), "read": {e["path"]: e["sha256"] for e in got["read"]}}))
