"""Typed records exchanged between backends, the queue cache, handlers and the Python API."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Literal, TypeAlias

import orjson

Scope = Literal["mine", "all"]
Stream = Literal["stdout", "stderr"]
#: How ``GET jobs`` encodes the jobs: one object per job, or one ``fields`` list and value rows.
QueueFormat = Literal["objects", "table"]


@dataclass(slots=True)
class Job:
    """One line of the queue. Times are ISO 8601 strings as Slurm prints them; absent values are None.

    Read-only by convention, not ``frozen``: frozen dataclasses construct about twice as slowly,
    and a 10,000-job queue is parsed on every cache refresh (benchmarks/bench_queue.py).
    """

    job_id: str  # as Slurm shows it: "42", "42_3", or "42_[4-10]" for collapsed pending tasks
    array_job_id: int | None
    array_task_id: str | None
    name: str
    user: str
    user_id: int | None
    account: str | None
    partition: str
    state: str
    reason: str | None
    submit_time: str | None
    start_time: str | None
    end_time: str | None
    time_used: str
    time_limit: str | None
    num_nodes: int
    num_cpus: int
    nodes: str | None
    work_dir: str | None
    stdout_path: str | None
    stderr_path: str | None
    qos: str | None


#: The queue's columns, in :class:`Job`'s order: a row of a :class:`QueueTable` holds these values.
JOB_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Job))
#: One job as a row: ``Job(*row)`` makes the record.
JobRow: TypeAlias = tuple[str | int | None, ...]


@dataclass(frozen=True, slots=True)
class Batch:
    """A run of whole records of one squeue output: its digest and the rows it made."""

    digest: bytes
    start: int
    end: int


class QueueTable:
    """One listing of the queue as rows of :data:`JOB_FIELDS` values: no per-job objects until
    someone asks for :attr:`jobs`. ``digest`` names the output it came from, so a refresh that
    printed the same bytes is recognised without parsing, and every encoding of it is reused."""

    __slots__ = ("_jobs", "batches", "digest", "rows")

    def __init__(self, rows: list[JobRow], digest: bytes, batches: tuple[Batch, ...] = ()) -> None:
        self.rows = rows
        self.digest = digest
        #: Where the output was cut while it was read, so a refresh reuses what did not change.
        self.batches = batches
        self._jobs: list[Job] | None = None

    @classmethod
    def of_jobs(cls, jobs: list[Job]) -> QueueTable:
        """A table of records a backend built itself (its digest is that of their values)."""
        rows: list[JobRow] = [tuple(getattr(j, name) for name in JOB_FIELDS) for j in jobs]
        table = cls(rows, hashlib.blake2b(orjson.dumps(rows), digest_size=16).digest())
        table._jobs = jobs
        return table

    @property
    def jobs(self) -> list[Job]:
        """The rows as records, made once per table."""
        if self._jobs is None:
            self._jobs = [Job(*row) for row in self.rows]  # type: ignore[arg-type]
        return self._jobs


@dataclass(frozen=True, slots=True)
class Priority:
    """One pending job's place in line: its priority and, with priority/multifactor, the factors."""

    job_id: str
    partition: str
    priority: int
    factors: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class PendingInfo:
    """Why a job waits, in plain words, when it may start, and its place in its partition's line."""

    reason: str | None
    explanation: str | None
    action: str | None
    expected_start: str | None  # Slurm's estimate (backfill), None when it has none worth showing
    rank: int | None  # 1 = next in its partition (by priority), None when unknown
    pending_in_partition: int | None
    priority: int | None
    factors: dict[str, int] | None


@dataclass(frozen=True, slots=True)
class Efficiency:
    """One finished job's use of what it held; None where Slurm does not say."""

    job_id: str
    state: str
    elapsed_seconds: int
    cpus: int
    cpu_seconds: float | None
    cpu_efficiency: float | None  # 0..1 (can exceed 1 slightly: accounting granularity)
    memory_requested_bytes: int | None
    max_rss_bytes: int | None
    memory_efficiency: float | None
    time_limit_seconds: int | None
    time_efficiency: float | None
    gpus: int
    suggestions: dict[str, str] = field(default_factory=dict)  # option name -> value, e.g. mem -> 1G
    notes: list[str] = field(default_factory=list)  # "used 0.6 of 4 GB: --mem=1G"

    @property
    def complete(self) -> bool:
        """Whether accounting had the job's whole record. Just after a job ends, sacct can show
        it without its time limit, which slurmdbd gets a moment later: no time use, no advice
        yet. (A job without a limit never looks complete: ask again, at most once a window.)"""
        return self.time_limit_seconds is not None


@dataclass(frozen=True, slots=True)
class JobDetails:
    """Every field Slurm reports for one job, as ``Key -> value`` strings."""

    job_id: str
    source: Literal["controller", "accounting"]
    fields: dict[str, str]
    user_id: int | None = None  # the job owner's uid (its output must be theirs)
    pending: PendingInfo | None = None  # set for a pending job
    efficiency: Efficiency | None = None  # set for a finished job, with accounting


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Where one record of a job is: the job itself, an array task, or an array's pending tasks.

    What a ``%%slurm`` cell's watcher learns from asking Slurm about its own job alone.
    """

    job_id: str  # "42", "42_3", or "42_[4-10]"
    state: str  # Slurm's long name: "PENDING", "RUNNING", "COMPLETED", ...
    start_time: str | None  # ISO 8601 as Slurm prints it (for a pending job, its estimate)
    nodes: str | None


@dataclass(frozen=True, slots=True)
class JobScript:
    """What made a job, to submit it again: its script and options; ``source`` says whose copy
    ("kept": slurm-lab's at submit time, "controller": ``scontrol write batch_script``)."""

    job_id: str
    script: str
    options: dict[str, str | bool]
    source: Literal["kept", "controller"]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    job_id: str


@dataclass(frozen=True, slots=True)
class WillRun:
    """What ``sbatch --test-only`` says of a request: when and where it would start (no job made)."""

    expected_start: str | None
    nodes: str | None
    partition: str | None
    processors: int | None
    #: The association and QOS limits it would run into (see slurm/limits.py).
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """Outcome of cancel/hold/release for one job id."""

    job_id: str
    ok: bool
    message: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OutputChunk:
    """A slice of a job's stdout or stderr file, for tailing from ``offset``."""

    job_id: str
    stream: Stream
    path: str
    offset: int
    next_offset: int  # byte offset to ask for next time
    size: int  # file size when read
    data: str


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    is_default: bool
    state: str
    max_time: str | None
    default_time: str | None
    total_nodes: int
    total_cpus: int
    idle_cpus: int
    allocated_cpus: int
    nodes: str


@dataclass(frozen=True, slots=True)
class PartitionAccess:
    """Who sees a partition's jobs in a plain ``squeue`` (without ``--all``): nobody but root
    and SlurmUser when it is ``hidden``, else members of ``allow_groups`` (None: everyone)."""

    name: str
    hidden: bool
    allow_groups: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Node:
    """One compute node: what it has, what is in use, and why it is down or drained."""

    name: str
    state: str  # Slurm's, lower case with its flags: "idle", "mixed", "down*", "idle+drain"
    partitions: list[str]
    cpus_total: int
    cpus_allocated: int
    memory_total_mb: int
    memory_allocated_mb: int
    gpus_total: int
    gpus_allocated: int
    features: str | None
    reason: str | None  # why it is down or drained, as Slurm records it


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit Slurm enforces on the user: its name, the limit, what is used and what is left."""

    name: str  # as Slurm names it: "GrpTRESMins cpu", "MaxSubmitJobsPU", "GrpJobs"
    limit: float
    used: float
    left: float


@dataclass(frozen=True, slots=True)
class Association:
    """The user in one account: fairshare and the limits set on it."""

    account: str
    partition: str | None
    is_default: bool
    fairshare: float | None  # sshare's FairShare, 0..1 (1: has used least)
    raw_usage: float | None
    limits: list[Limit]


@dataclass(frozen=True, slots=True)
class QosLimits:
    name: str
    limits: list[Limit]  # group limits and this user's per-user limits


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What the user may still run: associations and QOS, with every limit set and its use."""

    user: str
    associations: list[Association]
    qos: list[QosLimits]


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    backend: str
    cluster_name: str | None
    slurm_version: str | None
    user: str
    controller: Literal["up", "down"]
    message: str = ""


@dataclass(frozen=True, slots=True)
class HistoricJob:
    """A finished (or still known) job as accounting or the job-completion log reports it."""

    job_id: str
    name: str
    user: str
    partition: str | None
    state: str
    exit_code: str | None
    submit_time: str | None
    start_time: str | None
    end_time: str | None
    elapsed: str | None
    num_nodes: int | None
    nodes: str | None
    work_dir: str | None
    #: Once the job has ended and accounting has its record; None from the fallbacks.
    efficiency: Efficiency | None = None


@dataclass(frozen=True, slots=True)
class History:
    jobs: list[HistoricJob]
    source: Literal["accounting", "jobcomp", "controller"]
    message: str = ""
    extra: dict[str, str] = field(default_factory=dict)
