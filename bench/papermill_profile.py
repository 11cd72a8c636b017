"""papermill's own CLI, with its notebook saves timed.

papermill writes the whole output notebook (nbformat.writes, which validates it
against the schema, then a file write) when every cell starts and again when it
completes. This runs the unchanged ``papermill`` command line with
``NotebookExecutionManager.save`` wrapped in a timer, and writes what the saves
cost to STATS_JSON: {"saves": n, "total_ms": .., "first_ms": .., "last_ms": ..}.
The headline papermill numbers come from plain ``python -m papermill`` runs;
this one run only attributes where papermill's per-cell time goes.

Usage: python bench/papermill_profile.py STATS_JSON [papermill arguments...]
"""

from __future__ import annotations

import atexit
import json
import sys
import time

from papermill.cli import papermill
from papermill.engines import NotebookExecutionManager

durations_ms: list[float] = []
_original_save = NotebookExecutionManager.save


def timed_save(self, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    try:
        return _original_save(self, **kwargs)
    finally:
        durations_ms.append((time.perf_counter() - start) * 1000)


def write_stats(path: str) -> None:
    stats = {
        "saves": len(durations_ms),
        "total_ms": sum(durations_ms),
        "first_ms": durations_ms[0] if durations_ms else 0.0,
        "last_ms": durations_ms[-1] if durations_ms else 0.0,
    }
    with open(path, "w", encoding="utf8") as fh:
        json.dump(stats, fh)


if __name__ == "__main__":
    NotebookExecutionManager.save = timed_save  # type: ignore[method-assign]
    atexit.register(write_stats, sys.argv[1])
    papermill.main(args=sys.argv[2:], prog_name="papermill")
