"""runqueue_wait_s, read through a descriptor kept per thread, against the file read afresh.

Prints one JSON line: for each case, whether the value is the thread's own (between a
fresh read of /proc/thread-self/schedstat just before and just after it).
"""

import json
import os
import threading
import time

from nbrewind.tasks import store_policy as sp


def fresh() -> float:
    with open("/proc/thread-self/schedstat", "rb") as f:
        return int(f.read().split()[1]) / 1e9


def own() -> bool:
    before = fresh()
    got = sp.runqueue_wait_s()
    after = fresh()
    return got is not None and before <= got <= after


def busy_threads(n: int) -> list[bool]:
    # Threads that contend for the CPU (the GIL hands over): each one's wait is its own, not the main thread's.
    found: list[bool] = []

    def work() -> None:
        end = time.perf_counter() + 0.05
        while time.perf_counter() < end:
            pass
        found.append(own() and own())

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return found


out: dict[str, object] = {"main": [own() for _ in range(3)], "threads": busy_threads(4)}
# Every thread above has ended: their descriptors read ESRCH; new threads (their ids may be reused) still read their own.
out["after_threads_ended"] = busy_threads(8)
out["descriptors_kept"] = len(sp._schedstat) <= sp._SCHEDSTAT_MAX
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    ok = own() and all(k[0] == os.getpid() for k in sp._schedstat)
    os.write(write, b"1" if ok else b"0")
    os._exit(0)
os.waitpid(pid, 0)
out["forked_child"] = os.read(read, 1) == b"1"
print(json.dumps(out))
