"""The local backend: Slurm CLIs on this machine (a login node, or a pod with the client installed)."""

from __future__ import annotations

import asyncio
import os
import pwd
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import OutputNotAvailable
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
        self._user = pwd.getpwuid(os.geteuid()).pw_name

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
        return await run_command(
            [program, *argv[1:]],
            stdin=stdin,
            timeout=self.command_timeout,
            max_output=self.max_output_bytes,
            env=self.env,
        )

    async def read_file(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        return await asyncio.to_thread(_read_slice, path, offset, limit)


def _read_slice(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(min(offset, size))
            return fh.read(limit), size
    except FileNotFoundError:
        raise OutputNotAvailable(f"{path} does not exist yet (the job may not have started)") from None
    except PermissionError:
        raise OutputNotAvailable(f"{path} is not readable by {pwd.getpwuid(os.geteuid()).pw_name}") from None
    except IsADirectoryError:
        raise OutputNotAvailable(f"{path} is a directory") from None
