"""folder_scan.py's verdicts on values a notebook holds, as the checkpointer sees them
(the pickle stream of serialise.py's blob). Prints one JSON line: case -> bool."""

import json
import os
import pathlib
import sys
import tempfile

sys.path.insert(0, os.path.join(sys.argv[1], "engines", "python"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nbrewind.folder_scan import FolderScan, pickle_stream  # noqa: E402
from nbrewind.serialise import serialise  # noqa: E402

root = tempfile.mkdtemp()
folder = os.path.join(root, "project")
os.makedirs(folder)
link = os.path.join(root, "link")
os.symlink(folder, link)
scan = FolderScan()
scan.configure(link)  # given through a symlink: both spellings count


def holds(value):
    blob = serialise(value)
    return scan.blob_holds(b"".join(blob.pieces))


word = "project"
cases = {
    "abspath_str": holds(os.path.join(folder, "data", "in.txt")),
    "given_spelling_str": holds(os.path.join(link, "data", "in.txt")),
    "bytes_path": holds(os.fsencode(os.path.join(folder, "x.bin"))),
    "pathlib_path": holds(pathlib.Path(folder) / "data"),
    "pathlib_paths_in_list": holds([pathlib.Path(folder) / "a.csv", pathlib.Path(folder) / "b.csv"]),
    "pathlib_after_same_word": holds((word, pathlib.Path(folder) / "c.csv")),
    "dict_of_paths": holds({"in": os.path.join(folder, "in.txt"), "n": 3}),
    "dataframe_column": holds(pd.DataFrame({"f": [os.path.join(folder, "a"), os.path.join(folder, "b")], "n": [1, 2]})),
    "relative_str": holds("data/in.txt"),
    "relative_path": holds(pathlib.Path("data") / "in.txt"),
    "other_folder": holds(os.path.join(root, "elsewhere", "in.txt")),
    "array": holds(np.arange(1000)),
    "int": holds(42),
}
# A blob file is read up to its pickle stream, not its buffers.
blob = serialise({"p": os.path.join(folder, "z"), "a": np.zeros(10_000)})
path = os.path.join(root, "blob")
with open(path, "wb") as f:
    for piece in blob.pieces:
        f.write(piece)
cases["blob_file"] = scan.file_holds(path)
cases["not_a_blob"] = len(pickle_stream(b"hello")) == 0
unconfigured = FolderScan()
cases["unconfigured"] = unconfigured.holds(os.path.join(folder, "x").encode())
root_scan = FolderScan()
root_scan.configure("/")
cases["root_folder"] = root_scan.holds(b"/etc/passwd")
print(json.dumps(cases))
