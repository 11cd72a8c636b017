"""The Ray hit path on a local Ray (2 CPUs): small one-return hits get refs made in batches
(one task returning many recorded values), not one ray.put each; the refs are real
ObjectRefs (ray.get, ray.wait, await, a downstream task at the top level and nested in a
list); a large result and a multi-return hit are still put; a batch does not wait behind
the user's running tasks; a damaged recorded result is never served. Prints one JSON object."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from common import ROOT, STORE, cell, known_from, statuses

# Ray's workers are started by the raylet, which inherits this environment, not sys.path.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.join(ROOT, "engines", "python"), os.environ.get("PYTHONPATH")) if p)

import nbrewind_ray  # noqa: E402
import nbrewind_ray_hits  # noqa: E402

nbrewind_ray.install()

import ray  # noqa: E402

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

N = 40


@ray.remote
def square(x: int) -> int:
    return x * x


@ray.remote
def pair(x: int) -> tuple[int, int]:
    return x, -x


@ray.remote
def big(n: int) -> bytes:
    return bytes(range(256)) * (n // 256)


@ray.remote
def add(a: int, b: int) -> int:
    return a + b


@ray.remote
def total(xs: list[Any]) -> int:
    return sum(ray.get(xs))


@ray.remote
def nap(s: float) -> float:
    time.sleep(s)
    return s


# Counted: every ray.put the adapter makes for a hit.
puts: list[Any] = []
original_put = nbrewind_ray._original_put


def counting_put(value: Any, *args: Any, **kwargs: Any) -> Any:
    puts.append(type(value).__name__)
    return original_put(value, *args, **kwargs)


nbrewind_ray._original_put = counting_put


def workload() -> tuple[list[Any], Any, Any, Any, Any]:
    squares = [square.remote(i) for i in range(N)]
    both = pair.options(num_returns=2).remote(3)
    blob = big.remote(64 << 10)
    summed = add.remote(squares[1], squares[2])
    nested = total.remote(squares[:5])
    return squares, both, blob, summed, nested


def values(refs: tuple[list[Any], Any, Any, Any, Any]) -> Any:
    squares, both, blob, summed, nested = refs
    return [ray.get(squares), ray.get(both), len(ray.get(blob)), ray.get(summed), ray.get(nested)]


def wait_for_server() -> None:
    """Until the batch actor's first answer has reached its callback (ray.get may return just before)."""
    deadline = time.monotonic() + 60
    while nbrewind_ray_hits._server is not None and not nbrewind_ray_hits._server.ready and time.monotonic() < deadline:
        time.sleep(0.02)


out: dict[str, Any] = {}
rt = cell()
audited = values(workload())
known = known_from(rt.end_cell()["tasks"])

# Repeat: every task a hit (the batch actor is started by then, as ray.init starts it in a repeat).
rt = cell(known)
nbrewind_ray._start_hit_server(ray)
wait_for_server()
puts.clear()
t0 = time.perf_counter()
refs = workload()
repeated = values(refs)
squares = refs[0]
ready, waiting = ray.wait(squares, num_returns=len(squares), timeout=30)


async def awaited() -> list[int]:
    return [await r for r in squares[:3]]


# Hits read by tasks that are not recorded (so they run): the ref at the top level and nested.
fresh_top = ray.get(add.remote(squares[3], 1))
fresh_nested = ray.get(total.remote([squares[6], squares[7]]))
out["all_hit"] = {
    "same_values": repeated == audited,
    "refs": sorted({type(r).__name__ for r in (*squares, *refs[1], *refs[2:])}),
    "wait_all_ready": (len(ready), len(waiting)),
    "awaited": asyncio.run(awaited()) == [0, 1, 4],
    "downstream": [fresh_top, fresh_nested],
    "put_by_the_adapter": sorted(puts),  # the pair's two returns and the large bytes
    "batches": nbrewind_ray_hits.stats()["batches"],
    "records": statuses(rt.end_cell()["tasks"]),
}

# Only the first three submissions: one batch of the first 16 small results, the rest never loaded.
rt = cell(known)
nbrewind_ray_hits.forget(server=False)
first = [ray.get(square.remote(i)) for i in range(3)]
out["few_hits"] = {"values": first, **nbrewind_ray_hits.stats(), "records": statuses(rt.end_cell()["tasks"])}

# Both CPUs busy with the user's tasks: the hits' batch is not queued behind them.
rt = cell(known)
nbrewind_ray_hits.forget(server=False)
busy = [nap.remote(4.0) for _ in range(2)]
time.sleep(0.5)
t0 = time.perf_counter()
got = ray.get(square.remote(5))
out["busy"] = {"value": got, "fast": time.perf_counter() - t0 < 3.0}
ray.get(busy)
rt.end_cell()

# Ray started in a run with recorded results (the kernel's repeat): ray.init starts the batch
# actor, unrecorded; once it answers, the hits come from batches.
ray.shutdown()
rt = cell(known)
puts.clear()
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
started = nbrewind_ray_hits._server is not None
wait_for_server()
again = ray.get([square.remote(i) for i in range(N)])
out["after_init"] = {"started": started, "same_values": again == audited[0], "puts": len(puts), "batches": nbrewind_ray_hits.stats()["batches"], "records": statuses(rt.end_cell()["tasks"])}

# Damaged recorded results (every byte of their packs and blobs flipped): nothing is served from them, the tasks run.
for _key, _cell, _index, stored in known:
    path = rt.store.path_for(stored.pack[0] if stored.pack else stored.digest)
    os.chmod(path, 0o644)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(bytes(b ^ 0xFF for b in data))
rt = cell(known)
nbrewind_ray_hits.forget(server=False)
damaged = ray.get([square.remote(i) for i in range(N)])
out["damaged"] = {"same_values": damaged == audited[0], "records": statuses(rt.end_cell()["tasks"])}

ray.shutdown()
print(json.dumps(out))
