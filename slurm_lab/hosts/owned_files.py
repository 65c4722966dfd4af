"""Reading a file whose path another user chose (a job's ``--output``), safely.

Any user can point a job's output at a FIFO (a read would hang), a device, ``/proc/self/environ``
(the server's own environment), or a private file of the person viewing the job. So a job's
output is read only when it is a regular file, outside the kernel's trees, owned by the job's
user, opened without blocking, and within a deadline.
"""

from __future__ import annotations

import errno
import os
import stat

from ..errors import OutputNotAvailable, OutputRefused, SlurmLabError
from .files import not_there_yet

#: Trees whose "files" are the kernel's (process memory, environments, devices), never output.
SYSTEM_TREES = ("/proc/", "/sys/", "/dev/")


def refusal(path: str, real_path: str, mode: int, uid: int, owner_uid: int) -> OutputRefused | None:
    """Why the file at ``path`` (really ``real_path``) is not the job's output to show, if it is not."""
    if any(real_path.startswith(tree) or real_path == tree[:-1] for tree in SYSTEM_TREES):
        return OutputRefused(f"{path} is a system file ({real_path}), not job output")
    if not stat.S_ISREG(mode):
        return OutputRefused(f"{path} is not a regular file ({_kind(mode)}), so slurm-lab does not read it")
    if uid != owner_uid:
        return OutputRefused(
            f"{path} belongs to uid {uid}, not to the job's user (uid {owner_uid}), "
            "so it is not this job's output"
        )
    return None


def os_error(path: str, exc: OSError, reader: str) -> SlurmLabError:
    """A clear 404/403 for an OS error met while reading ``path`` as ``reader``."""
    if exc.errno == errno.ENOENT:
        return not_there_yet(path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OutputRefused(f"{path} is not readable by {reader}")
    return OutputNotAvailable(f"{path} cannot be read: {exc.strerror or exc}")


def read_owned(path: str, offset: int, limit: int, owner_uid: int, reader: str) -> tuple[bytes, int]:
    """Up to ``limit`` bytes of ``path`` from ``offset`` and its size, under the rules above.

    stat() first, so a FIFO or device is refused without being opened; then open non-blocking
    (a FIFO swapped in meanwhile cannot hang us) and check again on what was really opened.
    """
    if not os.path.isabs(path):
        raise OutputNotAvailable(f"{path} is not an absolute path")
    try:
        before = os.stat(path)
        problem = refusal(path, os.path.realpath(path), before.st_mode, before.st_uid, owner_uid)
        if problem:
            raise problem
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise os_error(path, exc, reader) from None
    try:
        st = os.fstat(fd)
        problem = refusal(path, _opened_path(fd, path), st.st_mode, st.st_uid, owner_uid)
        if problem:
            raise problem
        data = os.pread(fd, limit, min(offset, st.st_size)) if limit else b""
        return data, st.st_size
    except OSError as exc:
        raise os_error(path, exc, reader) from None
    finally:
        os.close(fd)


def _opened_path(fd: int, path: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a plain file"
