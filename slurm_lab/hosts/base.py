"""The host seam: where Slurm's programs run and the cluster-side files are (this machine, or a
login node over SSH). It knows nothing of Slurm beyond where its programs are."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from traitlets.config import LoggingConfigurable

from ..runner import CommandResult


class Host(LoggingConfigurable):
    """Runs programs and reads and writes files on the cluster side, as one Unix user.

    Subclasses implement every method; failures raise :mod:`slurm_lab.errors`.
    """

    #: Short name, as ``c.SlurmLab.host_class`` accepts it ("local", "ssh").
    name: ClassVar[str] = "abstract"

    def __init__(
        self, *, command_timeout: float = 30.0, max_output_bytes: int = 64 << 20, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.command_timeout = command_timeout
        #: Longest wait for one file read or write (a hung NFS mount answers 504, not never).
        self.file_timeout = min(command_timeout, 10.0)
        self.max_output_bytes = max_output_bytes

    @property
    def user(self) -> str:
        """The Unix user programs run as (and whom Slurm sees, for the CLIs)."""
        raise NotImplementedError

    async def run_slurm(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run a Slurm CLI: ``argv[0]`` is a bare name (``squeue``) found where this host keeps
        Slurm's programs. ``timeout`` overrides the command timeout (CommandTimeout)."""
        raise NotImplementedError

    async def run_slurm_streaming(
        self, argv: Sequence[str], on_stdout: Callable[[bytes], None]
    ) -> CommandResult:
        """Run a Slurm CLI, giving its stdout to ``on_stdout`` piece by piece as it arrives (the
        result's ``stdout`` is then empty). Hosts that cannot stream give it whole at the end."""
        result = await self.run_slurm(argv)
        on_stdout(result.stdout.encode())
        return dataclasses.replace(result, stdout="")

    async def run_program(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run any other program (e.g. the cluster's Python) where jobs are submitted."""
        raise NotImplementedError

    async def make_dir(self, path: str) -> str:
        """Create ``path`` (and parents, private to the user); return its absolute form."""
        raise NotImplementedError

    async def write_file(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (private to the user), replacing it atomically."""
        raise NotImplementedError

    async def read_file(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        """Up to ``limit`` bytes of a file of our own from ``offset``, and the file's size.

        Raises OutputNotAvailable when the file is missing or unreadable.
        """
        raise NotImplementedError

    async def read_owned_file(self, path: str, offset: int, limit: int, owner_uid: int) -> tuple[bytes, int]:
        """Like :meth:`read_file`, for a path another user may have chosen (a job's output).

        Reads only a regular file owned by ``owner_uid``, outside /proc, /sys and /dev, without
        ever blocking on it (FIFOs, devices) and within a deadline; anything else raises
        OutputNotAvailable (404) or OutputRefused (403) naming the problem.
        """
        raise NotImplementedError

    async def auth_problem(self) -> str | None:
        """Why Slurm's authentication (munge) cannot work here right now, if that is quick to
        tell; None when it seems fine or is unknown."""
        return None

    async def close(self) -> None:
        """Release connections and threads; called on server shutdown."""
