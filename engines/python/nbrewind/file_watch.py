"""Which files, stat'ed once, cannot have changed since: Linux inotify, through ctypes.

A cell that reads 10,000 files would otherwise ``stat`` each of them at its end,
every time it runs: ~3 µs a file, more than the whole budget of observing it.
Instead, from the second time a file is recorded (``FileObserver`` decides:
a watch costs about two stats, lost on a file read once), its folder, every
folder above it and the file itself are watched *before* the ``stat`` whose
result is kept;
from then on, as long as no event names it, that result still holds and the
file is not stat'ed again. inotify queues an event inside the system call
that changes a file, so a change that returned before the cell's end is in
the queue when the cell's end reads it.

What is watched, and why each:

* the file's inode: a write, a truncate, ``utime``/``chmod``, a new or
  removed hard link (``IN_ATTRIB``), its deletion or move: through any path,
  including a hard link in another folder;
* every folder on the path, from ``/`` down: a name created, deleted or moved
  in it (the file replaced by a rename, a folder above it moved or swapped
  for a link), the folder itself moved or deleted, a file system unmounted.

A file is trusted to the watches only when all of these hold (else it is
stat'ed at every cell's end, as before): its folder's path has no symbolic
link in it and the file is not one; it has one link; it and every folder above
it are on a local file system whose changes all go through this machine's
kernel (ext2/3/4, xfs, btrfs, tmpfs, f2fs, zfs, overlayfs, ramfs, bcachefs:
not NFS, CIFS/SMB, FUSE, Ceph, 9p, Lustre, GPFS, where another host's write
raises no event); no observed cell or task of this process opened it to write
(a write through a shared ``mmap`` raises no event); every watch was set up (the watches this
process may hold are capped at a quarter of ``max_user_watches``). A queue
overflow forgets every trusted file. ``NBREWIND_FILE_WATCH=0`` turns the
watches off.

Still unseen, as far as the kernel documents it: a write through a shared
``mmap`` by another process, or by this one through a mapping made outside
any observed scope (a ``stat`` would see its new ``mtime`` only
after the kernel notices the page is dirty), and a file system mounted over
a folder on the path while the kernel runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from typing import Any

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_UNMOUNT = 0x2000
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

FILE_MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_DONT_FOLLOW
# Names only. Not IN_ATTRIB (nor any other event a folder reports for its files): with one, the kernel
# checks the folder's watch on every open, read and close of every file in it (measured: the cell's
# body 4% slower); the file's own watch reports its attributes.
FOLDER_MASK = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW

# statfs f_type of file systems whose every change goes through this kernel's VFS (and so raises inotify events).
LOCAL_FILE_SYSTEMS = frozenset(
    {
        0xEF53,  # ext2/3/4
        0x58465342,  # xfs
        0x9123683E,  # btrfs
        0x01021994,  # tmpfs
        0xF2F52010,  # f2fs
        0x2FC12FC1,  # zfs
        0x794C7630,  # overlayfs (changing its layers underneath is undefined behaviour in the kernel's own terms)
        0x858458F6,  # ramfs
        0xCA451A4E,  # bcachefs
    }
)

_EVENT = struct.Struct("iIII")


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        return libc
    except (OSError, AttributeError):
        return None  # not Linux, or a libc without inotify


def file_system_type(libc: Any, path: str) -> int | None:
    """``statfs``'s f_type (the first field, a native long, on every Linux ABI), or None."""
    buf = ctypes.create_string_buffer(256)
    if libc.statfs(os.fsencode(path), buf) != 0:
        return None
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


class FileWatch:
    """The watches of one process, and the paths whose recorded stat they vouch for."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.libc: Any = None
        self.fd = -1
        self.cap = 0
        # watch descriptor -> the paths it was added for (one inode can be reached by several)
        self.paths_of: dict[int, set[str]] = {}
        self.folder_wds: set[int] = set()
        # folder -> whether files in it can be trusted to the watches (decided once, forgotten on an event)
        self.folders: dict[str, bool] = {}
        self.fs_local: dict[str, bool] = {}
        # path -> entry (the caller's record of the file), for trusted paths with no event since their stat
        self.quiet: dict[str, Any] = {}
        self.in_folder: dict[str, set[str]] = {}
        # Bumped whenever quiet changes: a caller's list built from quiet entries is still right while it holds.
        self.generation = 0
        self.disabled = os.environ.get("NBREWIND_FILE_WATCH", "1") == "0"

    # -- setting up

    def usable(self) -> bool:
        if self.disabled:
            return False
        if self.pid != os.getpid():
            self._forget_in_child()
            return False
        if self.fd < 0:
            self.libc = _libc()
            fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC) if self.libc is not None else -1
            if fd < 0:
                self.disabled = True
                return False
            self.fd = fd
            self.cap = _watch_cap()
        return True

    def _forget_in_child(self) -> None:
        """A forked child shares the parent's inotify queue: reading it would steal the parent's
        events. The child closes its copy and trusts nothing."""
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = -1
        self.quiet.clear()
        self.disabled = True

    def _add(self, path: str, mask: int, folder: bool) -> bool:
        if len(self.paths_of) >= self.cap:
            return False
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            return False
        self.paths_of.setdefault(wd, set()).add(path)
        if folder:
            self.folder_wds.add(wd)
        return True

    def folder_trusted(self, folder: str) -> bool:
        """Watch ``folder`` and every folder above it; true when a file in it can be trusted to
        the watches. The watches come first, the checks after: a change between them is an event."""
        known = self.folders.get(folder)
        if known is not None:
            return known
        parts = folder.split("/")
        chain = ["/"] + ["/".join(parts[: i + 1]) for i in range(1, len(parts)) if parts[i]]
        ok = folder.startswith("/") and all(self._add(d, FOLDER_MASK, True) for d in chain)
        ok = ok and os.path.realpath(folder) == folder and all(self._local(d) for d in chain)
        self.folders[folder] = ok
        return ok

    def _local(self, folder: str) -> bool:
        known = self.fs_local.get(folder)
        if known is None:
            known = self.fs_local[folder] = file_system_type(self.libc, folder) in LOCAL_FILE_SYSTEMS
        return known

    def watch_file(self, path: str) -> bool:
        """Watch the file itself (not a link's target); call before the stat it will vouch for."""
        return self._add(path, FILE_MASK, False)

    def trust(self, path: str, folder: str, entry: Any) -> None:
        self.quiet[path] = entry
        self.in_folder.setdefault(folder, set()).add(path)
        self.generation += 1

    def forget(self, path: str) -> None:
        if self.quiet.pop(path, None) is not None:
            self.generation += 1

    # -- reading the events

    def drain(self) -> None:
        """Read every queued event and forget the trusted paths they may concern."""
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                self.forget_everything()
                self.disabled = True
                return
            if not data:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                name = data[offset + 16 : offset + 16 + length].rstrip(b"\0")
                offset += 16 + length
                self._event(wd, mask, os.fsdecode(name))

    def _event(self, wd: int, mask: int, name: str) -> None:
        if mask & IN_Q_OVERFLOW:
            self.forget_everything()
            return
        paths = self.paths_of.get(wd)
        if paths is None:
            return
        if wd in self.folder_wds:
            for folder in list(paths):
                self._forget_under(folder.rstrip("/") + "/" + name if name else folder)
        else:
            for path in paths:
                self.forget(path)
        if mask & IN_IGNORED:  # the kernel dropped the watch (its inode is gone, or unmounted)
            del self.paths_of[wd]
            self.folder_wds.discard(wd)

    def _forget_under(self, path: str) -> None:
        """``path`` (a file or a folder) changed name or kind: nothing at or below it is trusted."""
        self.forget(path)
        below = path.rstrip("/") + "/"
        for folder in [f for f in self.in_folder if f == path or f.startswith(below)]:
            for p in self.in_folder.pop(folder):
                self.forget(p)
        for folder in [f for f in self.folders if f == path or f.startswith(below)]:
            del self.folders[folder]

    def forget_everything(self) -> None:
        self.quiet.clear()
        self.in_folder.clear()
        self.folders.clear()
        self.generation += 1


def _watch_cap() -> int:
    """At most a quarter of the user's inotify watches: the rest stay for the user's other tools."""
    try:
        with open("/proc/sys/fs/inotify/max_user_watches") as f:
            return max(0, int(f.read().strip()) // 4)
    except (OSError, ValueError):
        return 8192 // 4
