"""The installed version, in a module of its own so any layer can read it without the package's hooks."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("slurm-lab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
