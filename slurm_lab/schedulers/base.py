"""The scheduler seam: every Slurm operation the server and the kernels need, over a host."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from traitlets.config import LoggingConfigurable

from ..errors import NotSupported, SlurmLabError
from ..hosts import Host
from ..models import (
    AccountInfo,
    ActionResult,
    ClusterStatus,
    Efficiency,
    HistoricJob,
    History,
    Job,
    JobDetails,
    JobProgress,
    Node,
    OutputChunk,
    Partition,
    Priority,
    QueueTable,
    Scope,
    Stream,
    SubmitResult,
    WillRun,
)

Action = Literal["cancel", "hold", "release"]


class Scheduler(LoggingConfigurable):
    """A way to speak to Slurm. Inputs are already validated; failures raise :mod:`slurm_lab.errors`.

    ``host`` is where the cluster-side files are (job output, %%slurm runs); a scheduler that
    speaks to Slurm without one (slurmrestd from a pod) answers those with NotSupported (501).
    """

    #: Short name, as ``c.SlurmLab.scheduler_class`` accepts it ("cli", "slurmrestd").
    name: ClassVar[str] = "abstract"

    def __init__(self, host: Host | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host = host

    @property
    def backend(self) -> str:
        """What the status endpoint calls this way in: "local", "ssh" or "slurmrestd"."""
        return self.name

    @property
    def user(self) -> str:
        """The user whose identity Slurm sees."""
        raise NotImplementedError

    def files(self, purpose: str) -> Host:
        """The host for cluster-side files, or NotSupported naming what needed it."""
        if self.host is None:
            raise NotSupported(
                f"{purpose} needs the cluster's files, and the {self.name} backend has no host: "
                'set c.SlurmLab.host_class = "local" (shared file system) or "ssh"'
            )
        return self.host

    async def list_jobs(self, scope: Scope) -> list[Job]:
        """The queue: only the user's jobs (``mine``) or everyone's (``all``), every state."""
        raise NotImplementedError

    async def queue_table(self, scope: Scope, previous: QueueTable | None = None) -> QueueTable:
        """The queue as rows; ``previous`` itself when Slurm's answer is the one it was made from
        (so nothing is parsed or encoded again). Backends that can tell cheaply override this."""
        table = QueueTable.of_jobs(await self.list_jobs(scope))
        return previous if previous is not None and previous.digest == table.digest else table

    async def job_details(self, job_id: str) -> JobDetails:
        """All fields of one job; raises JobNotFound when Slurm no longer knows it."""
        raise NotImplementedError

    async def job_progress(self, job_id: str) -> list[JobProgress]:
        """Where job ``job_id`` is (an array: each task and pending group), asked of Slurm for that
        job alone; [] once the controller has forgotten it, which means it has finished.

        This fallback lists the user's queue; backends that can ask about one job override it.
        """
        base, _, task = job_id.partition("_")
        return [
            JobProgress(j.job_id, j.state, j.start_time, j.nodes)
            for j in await self.list_jobs("mine")
            if j.job_id.partition("_")[0] == base and (not task or j.job_id.partition("_")[2] == task)
        ]

    async def submit(self, script: bytes, flags: Sequence[str], tag: str | None = None) -> SubmitResult:
        """Submit ``script`` with validated sbatch ``flags``; a ``tag`` goes into the job's
        comment, for :meth:`find_submitted`."""
        raise NotImplementedError

    async def batch_script(self, job_id: str) -> str:
        """The script the controller keeps for a job it still has; JobNotFound once it is gone."""
        raise NotSupported(f"the {self.name} backend cannot read a job's batch script from Slurm")

    async def efficiency(self, job_id: str) -> Efficiency | None:
        """How much of what it held a finished job used (from accounting); None when Slurm has no
        record of it yet. AccountingDisabled (501) without accounting."""
        raise NotSupported(f"the {self.name} backend cannot read job efficiency")

    async def account(self) -> AccountInfo:
        """The user's fairshare and every association and QOS limit set on them, with its use."""
        raise NotSupported(f"the {self.name} backend cannot show account limits")

    async def nodes(self) -> list[Node]:
        """Every node: CPUs, memory and GPUs, in use and in total, and why it is down or drained."""
        raise NotSupported(f"the {self.name} backend cannot list nodes")

    async def priorities(self) -> list[Priority]:
        """Every pending job's priority (and factors, where Slurm computes them)."""
        raise NotSupported(f"the {self.name} backend cannot list priorities")

    async def will_run(self, script: bytes, flags: Sequence[str]) -> WillRun:
        """When and where the script would start with ``flags`` (``sbatch --test-only``); Slurm's
        refusal as SlurmRejected. Never creates a job."""
        raise NotSupported(f"the {self.name} backend cannot test a submit without making a job")

    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        """Cancel, hold or release jobs; one result per id, in order."""
        raise NotImplementedError

    async def partitions(self) -> list[Partition]:
        """Partitions with their limits and free CPUs."""
        raise NotImplementedError

    async def probe(self) -> SlurmLabError | None:
        """Quickly (within ~1 s, never waiting out Slurm's timeouts): None when the controller
        answers, else the typed error saying why not (munge, the controller, the transport)."""
        raise NotImplementedError

    async def status(self) -> ClusterStatus:
        """Who we are, what cluster, which Slurm, and whether the controller answers."""
        raise NotImplementedError

    async def find_submitted(self, tag: str) -> str | None:
        """The id of this user's job submitted with ``tag`` in its comment, while Slurm remembers it."""
        raise NotImplementedError

    async def min_job_age(self) -> float:
        """Seconds the controller keeps a finished job (after that, :meth:`find_submitted` misses it)."""
        raise NotImplementedError

    async def history(self, scope: Scope, since: str) -> History:
        """Finished jobs since ``since``; says where they came from when accounting is off."""
        raise NotImplementedError

    async def read_job_file(
        self, job_id: str, stream: Stream, path: str, owner_uid: int, offset: int, limit: int
    ) -> OutputChunk:
        """Up to ``limit`` bytes of the job's stdout/stderr file ``path`` from byte ``offset``,
        read on the host under its rules for files another user chose; a file rewritten shorter
        than ``offset`` is read from 0."""
        host = self.files("reading job output")
        data, size = await host.read_owned_file(path, offset, limit, owner_uid)
        if offset > size:
            offset = 0
            data, size = await host.read_owned_file(path, 0, limit, owner_uid)
        text, used = decode_whole_chars(data)
        return OutputChunk(job_id, stream, path, offset, offset + used, size, text)

    async def close(self) -> None:
        """Release connections; called on server shutdown."""
        if self.host is not None:
            await self.host.close()


def decode_whole_chars(data: bytes) -> tuple[str, int]:
    """Decode UTF-8, leaving a character cut at the chunk's end for the next read."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text = decoder.decode(data, final=False)
    return text, len(data) - len(decoder.getstate()[0])


def as_historic(job: Job) -> HistoricJob:
    """A queue record of a finished job as a history record (when accounting cannot say)."""
    return HistoricJob(
        job_id=job.job_id,
        name=job.name,
        user=job.user,
        partition=job.partition,
        state=job.state,
        exit_code=None,
        submit_time=job.submit_time,
        start_time=job.start_time,
        end_time=job.end_time,
        elapsed=job.time_used,
        num_nodes=job.num_nodes,
        nodes=job.nodes,
        work_dir=job.work_dir,
    )
