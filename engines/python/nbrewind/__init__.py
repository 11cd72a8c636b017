"""nbrewind: the kernel-side half of nbrewind-engine (shipped as plain source in the npm package)."""

__version__ = "0.1.0"

from .tasks.pins import pin  # noqa: E402 - `from nbrewind import pin` in a notebook

__all__ = ["__version__", "pin", "reads", "writes"]

def reads(*paths: object) -> None:
    """Declare files (paths or globs) the running cell or task reads where Python's ``open``
    does not see it (HDF5 through h5py, netCDF4's C library): they count as its inputs."""
    from .file_observer import reads as _reads

    _reads(*paths)


def writes(*paths: object) -> None:
    """Declare files the running cell or task writes where Python's ``open`` does not see it."""
    from .file_observer import writes as _writes

    _writes(*paths)
