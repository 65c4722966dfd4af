"""The backend seam: everything the server and the Python API need from a Slurm cluster."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..errors import SlurmLabError
from ..models import (
    ActionResult,
    ClusterStatus,
    History,
    Job,
    JobDetails,
    OutputChunk,
    Partition,
    Scope,
    Stream,
    SubmitResult,
)
from ..runner import CommandResult

if TYPE_CHECKING:
    from ..config import SlurmLab

Action = Literal["cancel", "hold", "release"]


class SlurmBackend(abc.ABC):
    """A way to reach Slurm. Inputs are already validated; failures raise :mod:`slurm_lab.errors`."""

    #: Short name shown in the status endpoint ("local", "ssh").
    name: str = "abstract"

    @classmethod
    @abc.abstractmethod
    def from_config(cls, lab: SlurmLab) -> SlurmBackend:
        """Build the backend from the ``SlurmLab`` settings (and its own, for configurable ones)."""

    @property
    @abc.abstractmethod
    def user(self) -> str:
        """The Unix user whose identity Slurm sees."""

    @abc.abstractmethod
    async def list_jobs(self, scope: Scope) -> list[Job]:
        """The queue: only the user's jobs (``mine``) or everyone's (``all``), every state."""

    @abc.abstractmethod
    async def job_details(self, job_id: str) -> JobDetails:
        """All fields of one job; raises JobNotFound when Slurm no longer knows it."""

    @abc.abstractmethod
    async def submit(self, script: bytes, flags: Sequence[str], tag: str | None = None) -> SubmitResult:
        """Submit ``script`` (given to sbatch on stdin) with validated sbatch ``flags``; a ``tag``
        goes into the job's comment, for :meth:`find_submitted`."""

    @abc.abstractmethod
    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        """Cancel, hold or release jobs; one result per id, in order."""

    @abc.abstractmethod
    async def read_job_file(
        self, job_id: str, stream: Stream, path: str, owner_uid: int, offset: int, limit: int
    ) -> OutputChunk:
        """Up to ``limit`` bytes of the job's stdout/stderr file ``path`` from byte ``offset``.

        Only a regular file owned by the job's user (``owner_uid``) is read, never blocking.
        """

    @abc.abstractmethod
    async def partitions(self) -> list[Partition]:
        """Partitions with their limits and free CPUs."""

    @abc.abstractmethod
    async def probe(self) -> SlurmLabError | None:
        """Quickly (within ~1 s, never waiting out Slurm's timeouts): None when the controller
        answers, else the typed error saying why not (munge, the controller, the transport)."""

    @abc.abstractmethod
    async def status(self) -> ClusterStatus:
        """Who we are, what cluster, which Slurm, and whether the controller answers."""

    @abc.abstractmethod
    async def find_submitted(self, tag: str) -> str | None:
        """The id of this user's job submitted with ``tag`` in its comment, while Slurm remembers it."""

    @abc.abstractmethod
    async def min_job_age(self) -> float:
        """Seconds the controller keeps a finished job (after that, :meth:`find_submitted` misses it)."""

    @abc.abstractmethod
    async def history(self, scope: Scope, since: str) -> History:
        """Finished jobs since ``since``; says where they came from when accounting is off."""

    # ---- files and programs on the cluster side (for %%slurm runs)
    @abc.abstractmethod
    async def make_dir(self, path: str) -> str:
        """Create ``path`` (and parents, private to the user); return its absolute form."""

    @abc.abstractmethod
    async def write_file(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (private to the user), replacing it atomically."""

    @abc.abstractmethod
    async def read_file(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        """Up to ``limit`` bytes of ``path`` from ``offset``, and the file's size.

        Raises OutputNotAvailable when the file is missing or unreadable.
        """

    @abc.abstractmethod
    async def run_program(self, argv: Sequence[str]) -> CommandResult:
        """Run a program that is not a Slurm CLI (e.g. the cluster's Python) where jobs are submitted."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; called on server shutdown."""
