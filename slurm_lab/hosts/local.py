"""This machine as the cluster side: a login node, or a pod with Slurm's client installed."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from traitlets import Int, Unicode, default

from ..atomic import write_atomically
from ..errors import BackendUnavailable, CommandTimeout, ProgramNotFound
from ..identity import local_account
from ..runner import CommandResult, run_command
from ..slurm import parsers
from .base import Host
from .files import make_dir, read_slice
from .owned_files import read_owned

log = logging.getLogger("slurm_lab.local")
T = TypeVar("T")
_DEFAULT_SLURM_CONF = "/etc/slurm/slurm.conf"


class LocalHost(Host):
    """Runs programs as the server's own Unix user on this machine: ``c.SlurmLab.host_class = "local"``."""

    name = "local"

    slurm_bin_dir = Unicode(
        config=True,
        help="""Folder holding squeue, sbatch, scancel, scontrol, sinfo and sacct. Empty means
        "find them on PATH". Default: c.SlurmLab.slurm_bin_dir, else "".
        Example: c.LocalHost.slurm_bin_dir = "/opt/slurm/bin" """,
    )
    slurm_conf = Unicode(
        config=True,
        help="""Path of slurm.conf given to the Slurm CLIs as SLURM_CONF. Empty means the CLIs'
        own default (or an inherited SLURM_CONF). Default: c.SlurmLab.slurm_conf, else "".
        Example: c.LocalHost.slurm_conf = "/etc/slurm/slurm.conf" """,
    )
    file_threads = Int(
        4,
        config=True,
        help="""Threads for file reads and writes, apart from the event loop's: a read stuck on
        a hung file system holds at most these, and every other request still runs.
        Default: 4. Example: c.LocalHost.file_threads = 8""",
    )

    @default("slurm_bin_dir")
    def _bin_dir_from_lab(self) -> str:
        return str(getattr(self.parent, "slurm_bin_dir", ""))

    @default("slurm_conf")
    def _conf_from_lab(self) -> str:
        return str(getattr(self.parent, "slurm_conf", ""))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.env = {**os.environ, **({"SLURM_CONF": self.slurm_conf} if self.slurm_conf else {})}
        self._user = local_account()
        self._files = ThreadPoolExecutor(self.file_threads, thread_name_prefix="slurm-lab-files")
        self._munge_socket = _munge_socket(self.env.get("SLURM_CONF") or _DEFAULT_SLURM_CONF)

    @property
    def user(self) -> str:
        return self._user

    async def run_slurm(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        return await self._slurm(argv, stdin, timeout)

    async def run_slurm_streaming(
        self, argv: Sequence[str], on_stdout: Callable[[bytes], None]
    ) -> CommandResult:
        return await self._slurm(argv, None, None, on_stdout)

    async def _slurm(
        self,
        argv: Sequence[str],
        stdin: bytes | None,
        timeout: float | None,
        on_stdout: Callable[[bytes], None] | None = None,
    ) -> CommandResult:
        program = os.path.join(self.slurm_bin_dir, argv[0]) if self.slurm_bin_dir else argv[0]
        try:
            return await run_command(
                [program, *argv[1:]],
                stdin=stdin,
                timeout=timeout or self.command_timeout,
                max_output=self.max_output_bytes,
                env=self.env,
                on_stdout=on_stdout,
            )
        except ProgramNotFound as exc:
            raise BackendUnavailable(
                f"{exc.message}; install the Slurm client tools or set c.LocalHost.slurm_bin_dir"
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
        return await self._in_file_thread(make_dir, path)

    async def write_file(self, path: str, data: bytes) -> None:
        await self._in_file_thread(write_atomically, path, data)

    async def read_file(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        return await self._in_file_thread(read_slice, path, offset, limit)

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
