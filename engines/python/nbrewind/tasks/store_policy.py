"""Which task results are worth storing: a result cheaper to recompute than to
store and load is not stored.

The rule is ElasticNotebook's and graphchain's: weigh what a result cost to
compute (measured where the task ran: its wall time less the time its thread
waited for a CPU held by other work, from Linux's schedstat) against what it
would cost to keep (written now, read back at the next run), both measured,
not guessed:

    store  iff  compute_s >= FIXED_S + size / write_bps + size / read_bps

``write_bps`` and ``read_bps`` are measured once per kernel session on the
store itself (``measure_bandwidth``). ``FIXED_S`` is what a blob file costs
whatever its size (create, rename, open; ~1 ms each on the VM this was
measured on). Small results (they travel inline in their note and are packed
per cell) are always kept: they cost next to nothing.

What the notebook receives is always kept, whatever it costs: a graph's
outputs when they come back to the notebook (``compute``, ``submit``, an app's
future), so that a repeat never has to re-run a whole graph to answer a cell.
The outputs of a ``persist`` stay in the engine and are weighed like any other
task (a persisted collection is recreated by running its producer again). A
result not stored is recorded as such, with the reason, and the next run
dispatches it again: never a wrong hit, only a recomputation that costs less
than the load it replaces.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

from ..blob_store import BlobStore

# (write bytes/s, read bytes/s) of the store, as measured.
StorePolicy = tuple[float, float]

FIXED_S = 0.002
_PROBE_BYTES = 8 << 20


def too_cheap_to_store(compute_s: float, size: int, policy: StorePolicy) -> str | None:
    """The reason not to store a result of ``size`` bytes that took ``compute_s`` to compute, or None."""
    write_bps, read_bps = policy
    keep_s = FIXED_S + size / write_bps + size / read_bps
    if compute_s >= keep_s:
        return None
    return (
        f"not stored: cheaper to recompute ({compute_s:.3f} s) than to store and load "
        f"({size / 1e6:.1f} MB: {keep_s:.3f} s at {write_bps / 1e6:.0f} MB/s write, {read_bps / 1e6:.0f} MB/s read)"
    )


def runqueue_wait_s() -> float | None:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat), or None.
    Subtracted from a task's wall time, it leaves what the task costs on a machine it has to
    itself: the cost of computing it again, which neighbours' load does not change.

    Read twice per task on every worker thread, so the thread's schedstat file is opened once
    and read with ``pread`` from then on: an ``open``/``read``/``close`` through Python's file
    objects cost 12-21 us here (and an audited ``open``), one ``pread`` 2 us."""
    key = (os.getpid(), threading.get_native_id())
    fd = _schedstat.get(key)
    try:
        if fd is None:
            fd = _open_schedstat(key)
        data = os.pread(fd, 128, 0)
        if not data:
            raise ValueError("empty")
        return int(data.split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        # A descriptor of a thread that ended (its id since reused: ESRCH), or no schedstat here.
        stale = _schedstat.pop(key, None)
        if stale is not None:
            _close(stale)
            try:
                return int(os.pread(_open_schedstat(key), 128, 0).split()[1]) / 1e9
            except (OSError, ValueError, IndexError):
                _close(_schedstat.pop(key, -1))
        return None


# (pid, thread id) -> a descriptor on that thread's /proc schedstat. Per pid: a forked child's
# threads are not its parent's (it closes what it inherited at its first read).
_schedstat: dict[tuple[int, int], int] = {}
_SCHEDSTAT_MAX = 512


def _open_schedstat(key: tuple[int, int]) -> int:
    if len(_schedstat) >= _SCHEDSTAT_MAX or next(iter(_schedstat), key)[0] != key[0]:
        # Threads come and go (a pool replaced, a fork): start again rather than keep dead ones.
        for old in list(_schedstat):
            _close(_schedstat.pop(old, -1))
    fd = os.open(f"/proc/self/task/{key[1]}/schedstat", os.O_RDONLY | os.O_CLOEXEC)
    _schedstat[key] = fd
    return fd


def _close(fd: int) -> None:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def configured_bandwidth() -> StorePolicy | None:
    """``NBREWIND_STORE_BANDWIDTH``: the store's write and read bandwidth in bytes/s
    (``WRITE`` or ``WRITE,READ``), for a store whose speed the probe below misjudges (a
    network file system whose client caches the probe's 8 MB). None when unset or not two
    positive numbers: the store is measured then."""
    raw = os.environ.get("NBREWIND_STORE_BANDWIDTH", "").strip()
    if not raw:
        return None
    try:
        values = [float(p) for p in raw.split(",")]
    except ValueError:
        return None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or not all(v > 0 for v in values):
        return None
    return (values[0], values[1])


def measure_bandwidth(store: BlobStore) -> StorePolicy:
    """Write 8 MB into the store's folder as the workers write results (buffered, then
    flushed: the kernel syncs the store once per cell), drop it from the page cache,
    read it back. Falls back to a conservative 100 MB/s each way if the store refuses."""
    tmp_dir = os.path.join(store.root, "tmp")
    data = os.urandom(1 << 20) * (_PROBE_BYTES >> 20)
    try:
        os.makedirs(tmp_dir, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=tmp_dir, prefix="bandwidth.")
        try:
            started = time.perf_counter()
            view = memoryview(data)
            while len(view):
                view = view[os.write(fd, view[: 4 << 20]) :]
            os.fdatasync(fd)
            write_s = time.perf_counter() - started
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.lseek(fd, 0, os.SEEK_SET)
            started = time.perf_counter()
            while os.read(fd, 4 << 20):
                pass
            read_s = time.perf_counter() - started
        finally:
            os.close(fd)
            os.unlink(path)
    except OSError:
        return (100e6, 100e6)
    return (_PROBE_BYTES / max(write_s, 1e-4), _PROBE_BYTES / max(read_s, 1e-4))
