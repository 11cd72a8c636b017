"""The cell-end file records with the inotify watches (``FileWatch``), against the truth.

Each case reads files in an observed cell, changes them (often from another process),
reads them again, and reports whether every recorded entry equals a fresh stat and sha256
of the file, and how many stats the cell's end made. Run by file-watch.test.ts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

sys.path.insert(0, os.path.join(sys.argv[1], "engines", "python"))

from nbrewind import file_watch  # noqa: E402
from nbrewind.blob_store import BlobStore  # noqa: E402
from nbrewind.file_observer import FileObserver  # noqa: E402

ROOT = tempfile.mkdtemp(prefix="nbrewind-file-watch-")
STORE = BlobStore(os.path.join(ROOT, "store", "blobs"))
STATS = [0]
_stat, _lstat = os.stat, os.lstat


def counted(real: Any) -> Any:
    """Counts the stats of the data files (not those of their folders, which resolving names makes)."""

    def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith(".txt"):
            STATS[0] += 1
        return real(path, *args, **kwargs)

    return stat


def notebook(name: str, n: int = 4) -> tuple[FileObserver, str, list[str]]:
    folder = os.path.join(ROOT, name)
    os.makedirs(os.path.join(folder, "data"))
    paths = []
    for i in range(n):
        p = os.path.join(folder, "data", f"f{i}.txt")
        with open(p, "w") as f:
            f.write(f"content {i}\n")
        paths.append(p)
    obs = FileObserver()
    obs.configure(folder, [os.path.join(ROOT, "store")], [], None)
    return obs, folder, paths


def cell(obs: FileObserver, paths: list[str]) -> dict[str, Any]:
    """One observed cell reading ``paths``: are its entries the truth, and how many stats its end made."""
    obs.begin_cell()
    for p in paths:
        try:
            with open(p, "rb") as f:
                f.read()
        except FileNotFoundError:
            pass
    os.stat, os.lstat = counted(_stat), counted(_lstat)
    STATS[0] = 0
    try:
        files = obs.end_cell(STORE)
    finally:
        os.stat, os.lstat = _stat, _lstat
    assert files is not None
    truth = []
    for p in sorted(paths):
        if os.path.isfile(p):
            st = os.stat(p)
            with open(p, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            name = os.path.relpath(os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p)), obs.notebook_dir or "")
            truth.append({"path": name, "size": st.st_size, "mtime_ns": str(st.st_mtime_ns), "sha256": digest})
    return {"true": files["read"] == truth, "stats": STATS[0], "read": len(files["read"])}


def prime(obs: FileObserver, paths: list[str]) -> None:
    """Read twice: a file is watched from the second time the process records it."""
    cell(obs, paths)
    cell(obs, paths)


def elsewhere(code: str) -> None:
    """A change made by another process."""
    subprocess.run([sys.executable, "-c", code], check=True)


def change_cases() -> dict[str, Any]:
    out: dict[str, Any] = {}
    obs, folder, paths = notebook("changes", 8)
    out["first"] = cell(obs, paths)
    out["second"] = cell(obs, paths)  # watched from now on
    out["unchanged"] = cell(obs, paths)
    # One byte, same size, by another process.
    elsewhere(f"open({paths[0]!r}, 'r+').write('C')")
    out["written_in_place"] = cell(obs, paths)
    # Same size, and the mtime put back: only ctime (and the watch) can tell.
    st = os.stat(paths[1])
    elsewhere(f"open({paths[1]!r}, 'r+').write('X'); import os; os.utime({paths[1]!r}, ns=({st.st_atime_ns}, {st.st_mtime_ns}))")
    out["mtime_put_back"] = cell(obs, paths)
    # Replaced by a rename over it.
    with open(paths[2] + ".tmp", "w") as f:
        f.write("renamed over\n")
    os.replace(paths[2] + ".tmp", paths[2])
    out["renamed_over"] = cell(obs, paths)
    # A hard link made later in an unwatched folder, written through.
    other = os.path.join(ROOT, "elsewhere")
    os.makedirs(other)
    os.link(paths[3], os.path.join(other, "link.txt"))
    elsewhere(f"open({os.path.join(other, 'link.txt')!r}, 'r+').write('L')")
    out["written_through_hard_link"] = cell(obs, paths)
    out["hard_link_stays_stated"] = cell(obs, paths)
    # The notebook's folder (above the files' own) swapped for another holding other content under the same names.
    os.rename(folder, folder + "-old")
    os.makedirs(os.path.join(folder, "data"))
    for i, p in enumerate(paths):
        with open(p, "w") as f:
            f.write(f"new content {i}\n")
    out["folder_above_swapped"] = cell(obs, paths)
    os.remove(paths[4])
    out["deleted"] = cell(obs, paths)
    out["after_all"] = cell(obs, paths)
    return out


def changed_after_priming(made: tuple[FileObserver, str, list[str]]) -> dict[str, Any]:
    """Read twice, change the first file from another process, read again."""
    obs, _, paths = made
    prime(obs, paths)
    elsewhere(f"open({paths[0]!r}, 'r+').write('Z')")
    return cell(obs, paths)


def fallback_cases() -> dict[str, Any]:
    out: dict[str, Any] = {}
    # A folder reached through a symbolic link: never trusted to the watches.
    obs, folder, paths = notebook("linked")
    os.symlink(os.path.join(folder, "data"), os.path.join(folder, "via-link"))
    linked = [os.path.join(folder, "via-link", os.path.basename(p)) for p in paths]
    prime(obs, linked)
    elsewhere(f"open({linked[0]!r}, 'r+').write('S')")
    out["symlinked_folder"] = cell(obs, linked)
    # A file system the watches cannot vouch for (as NFS, CIFS, FUSE are).
    local = file_watch.LOCAL_FILE_SYSTEMS
    file_watch.LOCAL_FILE_SYSTEMS = frozenset()
    try:
        out["not_local"] = changed_after_priming(notebook("not-local"))
    finally:
        file_watch.LOCAL_FILE_SYSTEMS = local
    # Out of watches.
    obs, folder, paths = notebook("no-watches")
    obs._watch.usable()  # noqa: SLF001
    obs._watch.cap = 0  # noqa: SLF001
    out["out_of_watches"] = changed_after_priming((obs, folder, paths))
    # Turned off.
    os.environ["NBREWIND_FILE_WATCH"] = "0"
    try:
        out["turned_off"] = changed_after_priming(notebook("off"))
    finally:
        del os.environ["NBREWIND_FILE_WATCH"]
    # A file this process opened to write (it may hold a shared mmap of it): always stat'ed.
    obs, folder, paths = notebook("written-here")
    obs.begin_cell()
    with open(paths[0], "r+b") as f:
        f.write(b"M")
    obs.end_cell(STORE)
    prime(obs, paths)
    out["written_here"] = cell(obs, paths)
    return out


def fork_case() -> dict[str, Any]:
    """A forked child (multiprocessing's fork) must not read the parent's events off the shared queue."""
    obs, folder, paths = notebook("fork")
    prime(obs, paths)
    elsewhere(f"open({paths[0]!r}, 'r+').write('F')")
    pid = os.fork()
    if pid == 0:
        try:
            cell(obs, paths)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return cell(obs, paths)


if __name__ == "__main__":
    try:
        types = {file_watch.file_system_type(file_watch._libc(), ROOT)}  # noqa: SLF001
        print(json.dumps({"local": bool(types & file_watch.LOCAL_FILE_SYSTEMS), "changes": change_cases(), "fallbacks": fallback_cases(), "fork": fork_case()}))
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
