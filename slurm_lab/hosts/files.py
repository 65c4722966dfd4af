"""Files of our own on this machine (a %%slurm run's files, the job-completion log), and the
one wording of "that file is not there yet"."""

from __future__ import annotations

import os

from ..errors import OutputNotAvailable


def not_there_yet(path: str) -> OutputNotAvailable:
    """The 404 for a job's or run's file that Slurm has not created (yet)."""
    return OutputNotAvailable(f"{path} does not exist yet (the job may not have started)")


def make_dir(path: str) -> str:
    """Create ``path`` and its parents, private to the user; return its absolute form."""
    full = os.path.abspath(os.path.expanduser(path))
    os.makedirs(full, 0o700, exist_ok=True)
    return full


def read_slice(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    """Up to ``limit`` bytes of ``path`` from ``offset``, and the file's size."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(min(offset, size))
            return fh.read(limit), size
    except FileNotFoundError:
        raise not_there_yet(path) from None
    except OSError as exc:
        raise OutputNotAvailable(f"{path} cannot be read: {exc.strerror or exc}") from None
