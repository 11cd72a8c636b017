"""Task-level memoization, engine-agnostic: keys, the memo table, and the worker-side runners.

Engine adapters (engines/dask, later parsl and ray) turn their engine's task
submissions into calls of this core: ``keys`` names a task by content,
``runtime`` decides hit or miss and keeps the cell's task log, ``worker``
holds the code that runs on the engine's workers (shipped by value).
"""

from .keys import TASK_KEY_SCHEME, Keyer, Uncacheable, function_name, set_file_mode
from .pins import pin

__all__ = ["TASK_KEY_SCHEME", "Keyer", "Uncacheable", "function_name", "pin", "set_file_mode"]
