"""The local backend: Slurm CLIs on this machine (a login node, or a pod with the client installed)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from ..errors import BackendUnavailable, CommandTimeout, OutputNotAvailable, ProgramNotFound
from ..identity import local_account
from ..runner import CommandResult, run_command
from ..slurm import parsers
from .cli import CliBackend
from .owned_files import read_owned

if TYPE_CHECKING:
    from ..config import SlurmLab

log = logging.getLogger("slurm_lab.local")
T = TypeVar("T")
#: File reads and writes run here, not on the event loop's shared pool: a read stuck on a hung
#: file system can then hold at most these threads, and every other request still runs.
_FILE_THREADS = 4
_DEFAULT_SLURM_CONF = "/etc/slurm/slurm.conf"


class LocalBackend(CliBackend):
    """Runs the Slurm CLIs as the server's own Unix user."""

    name = "local"

    def __init__(
        self,
        *,
        command_timeout: float = 30.0,
        max_output_bytes: int = 64 << 20,
        slurm_bin_dir: str = "",
        slurm_conf: str = "",
    ) -> None:
        super().__init__()
        self.command_timeout = command_timeout
        #: Longest wait for one file read or write (a hung NFS mount answers 504, not never).
        self.file_timeout = min(command_timeout, 10.0)
        self.max_output_bytes = max_output_bytes
        self.slurm_bin_dir = slurm_bin_dir
        self.env = {**os.environ, **({"SLURM_CONF": slurm_conf} if slurm_conf else {})}
        self._user = local_account()
        self._files = ThreadPoolExecutor(_FILE_THREADS, thread_name_prefix="slurm-lab-files")
        self._munge_socket = _munge_socket(self.env.get("SLURM_CONF") or _DEFAULT_SLURM_CONF)

    @classmethod
    def from_config(cls, lab: SlurmLab) -> LocalBackend:
        return cls(
            command_timeout=lab.command_timeout,
            max_output_bytes=lab.max_output_bytes,
            slurm_bin_dir=lab.slurm_bin_dir,
            slurm_conf=lab.slurm_conf,
        )

    @property
    def user(self) -> str:
        return self._user

    async def run(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        program = os.path.join(self.slurm_bin_dir, argv[0]) if self.slurm_bin_dir else argv[0]
        try:
            return await self.run_program([program, *argv[1:]], stdin, timeout)
        except ProgramNotFound as exc:
            raise BackendUnavailable(
                f"{exc.message}; install the Slurm client tools or set c.SlurmLab.slurm_bin_dir"
            ) from None

    async def run_program(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        return await run_command(
            argv,
            stdin=stdin,
            timeout=timeout or self.command_timeout,
            max_output=self.max_output_bytes,
            env=self.env,
        )

    async def auth_problem(self) -> str | None:
        """munged refusing connections is known at once; the CLIs would retry it for 2 s."""
        if self._munge_socket is None:
            return None
        return await self._in_file_thread(_munge_refuses, self._munge_socket)

    async def make_dir(self, path: str) -> str:
        return await self._in_file_thread(_make_dir, path)

    async def write_file(self, path: str, data: bytes) -> None:
        await self._in_file_thread(_write_atomically, path, data)

    async def read_file(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        return await self._in_file_thread(_read_slice, path, offset, limit)

    async def read_owned_file(self, path: str, offset: int, limit: int, owner_uid: int) -> tuple[bytes, int]:
        return await self._in_file_thread(read_owned, path, offset, limit, owner_uid, self._user)

    async def _in_file_thread(self, fn: Callable[..., T], *args: object) -> T:
        future = asyncio.get_running_loop().run_in_executor(self._files, fn, *args)
        try:
            return await asyncio.wait_for(future, self.file_timeout)
        except asyncio.TimeoutError:
            raise CommandTimeout(
                f"a file operation took more than {self.file_timeout:g} s (a hung file system?)"
            ) from None

    async def close(self) -> None:
        self._files.shutdown(wait=False, cancel_futures=True)


def _munge_socket(slurm_conf: str) -> str | None:
    """The munge socket to watch, if it exists now (a wrong guess must never report munge down)."""
    try:
        with open(slurm_conf, encoding="utf-8", errors="replace") as fh:
            path = parsers.parse_munge_socket(fh.read())
    except OSError:
        path = parsers.DEFAULT_MUNGE_SOCKET
    if not os.path.exists(path):
        log.debug("munge socket %s not found; munge outages are told from the CLIs' errors", path)
        return None
    return path


def _munge_refuses(path: str) -> str | None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(path)
        except OSError as exc:
            return f"cannot connect to munged at {path}: {exc.strerror or exc} (is munged running?)"
    return None


def _make_dir(path: str) -> str:
    full = os.path.abspath(os.path.expanduser(path))
    os.makedirs(full, 0o700, exist_ok=True)
    return full


def _write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _read_slice(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    """A file of our own (a %%slurm run's files, the job-completion log)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(min(offset, size))
            return fh.read(limit), size
    except FileNotFoundError:
        raise OutputNotAvailable(f"{path} does not exist yet (the job may not have started)") from None
    except OSError as exc:
        raise OutputNotAvailable(f"{path} cannot be read: {exc.strerror or exc}") from None
