"""nbrewind: the kernel-side half of nbrewind-engine (shipped as plain source in the npm package)."""

__version__ = "0.1.0"
