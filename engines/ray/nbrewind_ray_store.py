"""Where a Ray task's result is persisted, and how a stored result is read back.

Results are written where they are produced: by the worker, straight into the
store, when every node of the cluster can reach the kernel's store (each
node's probe reads back a nonce the kernel wrote, and can write there).
Otherwise the kernel stores each result when it arrives (the value then
crosses to the kernel once; still never through the TypeScript process).
"""

from __future__ import annotations

import functools
import os
import threading
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

import nbrewind
from nbrewind.tasks import runtime as task_runtime
from nbrewind.tasks import shipping

_PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Placement:
    """What the probe of one Ray job found: who persists results, and how our worker code travels."""

    on_worker: bool
    runners: shipping.Runners
    why_not_worker: str | None = None


# (cluster and job, blobs dir) -> its placement
_placements: dict[tuple[Any, str], Placement] = {}
_lock = threading.Lock()


def placement(ray: Any, rt: task_runtime.TaskRuntime, job: Any = None) -> Placement:
    """``job``: Ray's current cluster and job, when the caller has just read it."""
    if job is None:
        job = ray._private.worker.global_worker.current_cluster_and_job
    cache_key = (job, rt.blobs_dir)
    known = _placements.get(cache_key)  # once probed, a placement never changes: no lock to read it
    if known is not None:
        return known
    with _lock:
        known = _placements.get(cache_key)
        if known is None:
            known = _probe(ray, rt)
            _placements[cache_key] = known
    return known


def forget() -> None:
    """After ``ray.shutdown``: the next cluster is probed again."""
    with _lock:
        _placements.clear()


def _probe(ray: Any, rt: task_runtime.TaskRuntime) -> Placement:
    """One probe task per alive node: does it see the store, can it import this nbrewind?"""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nonce = uuid.uuid4().hex
    marker = f".probe-{nonce[:12]}"
    path = os.path.join(rt.tasklog_dir, marker)
    try:
        os.makedirs(rt.tasklog_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(nonce)
        nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        probe = ray.remote(num_cpus=0, max_retries=0)(_probe_task(shipping.RUNNERS_BY_VALUE.probe))
        answers = ray.get(
            [
                probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(rt.blobs_dir, marker, nonce, nbrewind.__version__)
                for node in nodes
            ],
            timeout=_PROBE_TIMEOUT_S,
        )
    except Exception as err:  # no answer is not a yes: the kernel stores the results
        return Placement(False, shipping.RUNNERS_BY_VALUE, f"cannot check that the Ray workers reach the store: {type(err).__name__}: {err}")
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    if not answers:
        return Placement(False, shipping.RUNNERS_BY_VALUE, "no Ray node to check that the store is reachable")
    importable = all(a["importable"] for a in answers)
    runners = shipping.runners(by_value=not importable)
    far = [node for node, a in zip(nodes, answers) if not a["store"]]
    if far:
        return Placement(False, runners, f"the store {rt.blobs_dir} is not reachable from Ray node(s) {', '.join(n[:12] for n in far[:3])}")
    return Placement(True, runners)


def _probe_task(probe: Any) -> Any:
    # A closure: pickled by value, so the workers need not import this module.
    def probe_worker(blobs_dir: str, marker: str, nonce: str, version: str) -> dict[str, bool]:
        return dict(probe(blobs_dir, marker, nonce, version))

    return probe_worker


def persist_from_kernel(rt: task_runtime.TaskRuntime, record: dict[str, Any], dispatch: str, returned: list[Any]) -> None:
    """Store the task's result from the kernel once every return has arrived; note a failure."""
    if not returned:
        return
    values: list[Any] = [None] * len(returned)
    failed: list[BaseException] = []
    remaining = [len(returned)]
    lock = threading.Lock()

    def arrived(i: int, future: Any) -> None:
        try:
            values[i] = future.result()
        except BaseException as err:
            failed.append(err)
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        try:
            if failed:
                # A RayTaskError wraps the task's own exception (and a coloured remote traceback).
                cause = getattr(failed[0], "cause", None)
                rt.fail_client_side(record, dispatch, cause if isinstance(cause, BaseException) else failed[0])
            else:
                rt.persist_client_side(record, dispatch, values[0] if len(values) == 1 else tuple(values))
        except Exception:
            traceback.print_exc()  # bookkeeping: the task stays unrecorded, the user's result is untouched

    for i, ref in enumerate(returned):
        ref.future().add_done_callback(functools.partial(arrived, i))
