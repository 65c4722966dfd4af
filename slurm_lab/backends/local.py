"""The local backend: Slurm CLIs on this machine (a login node, or a pod with the client installed)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import BackendUnavailable, OutputNotAvailable, ProgramNotFound
from ..identity import local_account
from ..runner import CommandResult, run_command
from .cli import CliBackend

if TYPE_CHECKING:
    from ..config import SlurmLab


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
        self.max_output_bytes = max_output_bytes
        self.slurm_bin_dir = slurm_bin_dir
        self.env = {**os.environ, **({"SLURM_CONF": slurm_conf} if slurm_conf else {})}
        self._user = local_account()

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

    async def run(self, argv: Sequence[str], stdin: bytes | None = None) -> CommandResult:
        program = os.path.join(self.slurm_bin_dir, argv[0]) if self.slurm_bin_dir else argv[0]
        try:
            return await self.run_program([program, *argv[1:]], stdin)
        except ProgramNotFound as exc:
            raise BackendUnavailable(
                f"{exc.message}; install the Slurm client tools or set c.SlurmLab.slurm_bin_dir"
            ) from None

    async def run_program(self, argv: Sequence[str], stdin: bytes | None = None) -> CommandResult:
        return await run_command(
            argv, stdin=stdin, timeout=self.command_timeout, max_output=self.max_output_bytes, env=self.env
        )

    async def make_dir(self, path: str) -> str:
        return await asyncio.to_thread(_make_dir, path)

    async def write_file(self, path: str, data: bytes) -> None:
        await asyncio.to_thread(_write_atomically, path, data)

    async def read_file(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        return await asyncio.to_thread(_read_slice, path, offset, limit)


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
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(min(offset, size))
            return fh.read(limit), size
    except FileNotFoundError:
        raise OutputNotAvailable(f"{path} does not exist yet (the job may not have started)") from None
    except PermissionError:
        raise OutputNotAvailable(f"{path} is not readable by {local_account()}") from None
    except IsADirectoryError:
        raise OutputNotAvailable(f"{path} is a directory") from None
