"""nbrewind: the kernel-side half of nbrewind-engine (shipped as plain source in the npm package)."""

__version__ = "0.1.0"

from .tasks.pins import pin  # noqa: E402 - `from nbrewind import pin` in a notebook

__all__ = ["__version__", "pin"]
