"""Slurm through its command-line tools, run on a host (this machine, or a login node over SSH)."""

from __future__ import annotations

import asyncio
import contextlib
import pwd
import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import (
    AccountingDisabled,
    AccountingUnavailable,
    BackendUnavailable,
    CommandTimeout,
    ControllerUnavailable,
    JobFinished,
    JobNotFound,
    OutputNotAvailable,
    SlurmLabError,
    UnexpectedOutput,
)
from ..hosts import Host
from ..models import (
    AccountInfo,
    ActionResult,
    ClusterStatus,
    Efficiency,
    History,
    Job,
    JobDetails,
    JobProgress,
    Node,
    Partition,
    Priority,
    QueueTable,
    Scope,
    SubmitResult,
    WillRun,
)
from ..runner import CommandResult
from ..slurm import argv as build
from ..slurm import parsers
from ..slurm.account import parse_account
from ..slurm.diagnose import diagnose, error_lines
from ..slurm.efficiency import parse_efficiency
from .base import Action, Scheduler, as_historic
from .queue_stream import QueueStream

_ACTION_ARGV = {
    "cancel": build.scancel,
    "hold": build.scontrol_hold,
    "release": build.scontrol_release,
}
#: ``scontrol show assoc_mgr`` without accounting (AccountingStorageType=accounting_storage/none).
_NO_ASSOCIATIONS = "No associations currently cached in Slurm"
_JOBCOMP_TAIL = 1 << 20  # the last MiB of the job-completion log: ~2,500 jobs, the newest
# "Kill job error on job id 3: Access/permission denied", "Invalid user id for job 3",
# "Job has already finished for job 3", and scontrol's "3_7: Invalid job id specified".
_ID = r"\d+(?:_\d+|_\[[\d,-]+\])?"
_PER_JOB_ERROR = re.compile(rf"(?:job id|for job|Job ID|JobId=)\s*({_ID})(?![\d_])|^({_ID}): ")
#: Seconds ``scontrol ping`` may take: a frozen slurmctld would hold it for MessageTimeout (10 s).
PING_DEADLINE = 1.0
#: Slurm's default MinJobAge: how long the controller remembers a finished job.
_DEFAULT_MIN_JOB_AGE = 300.0
T = TypeVar("T")


class CliScheduler(Scheduler):
    """Runs squeue, sbatch, scontrol, scancel, sinfo and sacct on its host and parses their output:
    ``c.SlurmLab.scheduler_class = "cli"`` (the default)."""

    name = "cli"
    #: List the queue with ``squeue --all``: hidden partitions and other groups' too. For the
    #: site cache only (python -m slurm_lab.site), which lists once and filters per user; not a
    #: setting, so a user's own server always shows what their own squeue shows.
    every_partition = False

    def __init__(self, host: Host | None = None, **kwargs: Any) -> None:
        if host is None:
            raise ValueError("the cli scheduler needs a host to run Slurm's commands on")
        super().__init__(host, **kwargs)
        self.cli_host = host
        self._version: str | None = None
        self._ctl_config: dict[str, str] | None = None
        self._jobcomp_lock = asyncio.Lock()
        self._sprio = True
        self._mark = secrets.token_hex(16)

    @property
    def backend(self) -> str:
        return self.cli_host.name

    @property
    def user(self) -> str:
        return self.cli_host.user

    async def run(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run a Slurm CLI (``argv[0]`` is a bare program name) on the host."""
        return await self.cli_host.run_slurm(argv, stdin, timeout)

    async def check(self, argv: Sequence[str], stdin: bytes | None = None) -> CommandResult:
        """Run and raise the diagnosed typed error on a non-zero exit."""
        result = await self.run(argv, stdin)
        if result.returncode != 0:
            # scontrol prints some refusals ("Job 3_7 not found") on stdout.
            raise diagnose(argv[0], result.returncode, result.stderr or result.stdout)
        return result

    # ------------------------------------------------------------- queries
    async def list_jobs(self, scope: Scope) -> list[Job]:
        return (await self.queue_table(scope)).jobs

    async def queue_table(self, scope: Scope, previous: QueueTable | None = None) -> QueueTable:
        """One squeue, parsed in a worker thread while it prints (see queue_stream.py): a
        100,000-job listing is hundreds of ms of Python that must neither add to squeue's own
        time nor hold up other requests. The previous table itself when nothing changed."""
        nonce = secrets.token_urlsafe(6)
        stream = QueueStream(nonce, self._mark, previous)
        argv = build.squeue(scope, nonce, self.every_partition)
        result = await self.cli_host.run_slurm_streaming(argv, stream.feed)
        if result.returncode != 0:
            raise diagnose("squeue", result.returncode, result.stderr)
        try:
            return await stream.table()
        except _PARSE_ERRORS as exc:
            raise _unreadable("squeue", exc) from None

    async def job_details(self, job_id: str) -> JobDetails:
        """The controller's record while it has the job, then accounting's (with efficiency)."""
        try:
            result = await self.check(build.scontrol_show_job(job_id))
        except JobNotFound:
            if "[" in job_id or (found := await self._accounted(job_id)) is None:
                raise
            return found
        return _parsed("scontrol", lambda: parsers.parse_job_details(result.stdout, job_id))

    async def job_progress(self, job_id: str) -> list[JobProgress]:
        """One ``scontrol show job ID``: slurmctld packs that job alone, not the user's queue."""
        try:
            result = await self.check(build.scontrol_job(job_id))
        except JobNotFound:
            return []  # the controller forgot it: it has finished (MinJobAge ago)
        return _parsed("scontrol", lambda: parsers.parse_job_progress(result.stdout, job_id))

    async def _accounted(self, job_id: str) -> JobDetails | None:
        nonce = secrets.token_urlsafe(6)
        result = await self.run(build.sacct_job(job_id, nonce))
        if result.returncode != 0:
            error = diagnose("sacct", result.returncode, result.stderr)
            if isinstance(error, AccountingUnavailable):
                raise error  # it may well know the job: say that it cannot answer, not "no job"
            return None  # no accounting: "not found" stands
        return _parsed("sacct", lambda: parsers.parse_accounted_job(result.stdout, nonce, job_id))

    async def partitions(self) -> list[Partition]:
        result = await self.check(build.sinfo_partitions())
        return _parsed("sinfo", lambda: parsers.parse_partitions(result.stdout))

    async def probe(self) -> SlurmLabError | None:
        problem = await self.cli_host.auth_problem()
        if problem is not None:
            return BackendUnavailable(f"munge: {problem}")
        try:
            ping = await self.run(build.scontrol_ping(), timeout=PING_DEADLINE)
        except BackendUnavailable as exc:
            return exc
        except CommandTimeout as exc:
            if "munge" in exc.partial_stderr.lower():  # Slurm retries munge for 2 s, saying so first
                return BackendUnavailable(f"munge: munged does not answer ({_last_line(exc.partial_stderr)})")
            return ControllerUnavailable(
                f"Slurm controller unavailable (scontrol ping: no answer within {PING_DEADLINE:g} s)"
            )
        if ping.returncode == 0 and parsers.parse_ping(ping.stdout):
            return None
        error = diagnose("scontrol", ping.returncode or 1, ping.stderr)
        if isinstance(error, BackendUnavailable):
            return error
        return ControllerUnavailable("Slurm controller unavailable (scontrol ping: not responding)")

    async def status(self) -> ClusterStatus:
        problem = await self.probe()
        if isinstance(problem, BackendUnavailable):
            raise problem  # munge or the transport: the controller's state is unknown
        up = problem is None
        if self._version is None:
            self._version = parsers.parse_version((await self.check(build.slurm_version())).stdout)
        config = await self.controller_config() if up else (self._ctl_config or {})
        return ClusterStatus(
            backend=self.backend,
            cluster_name=config.get("ClusterName"),
            slurm_version=self._version,
            user=self.user,
            controller="up" if up else "down",
            message=problem.message if problem else "",
        )

    async def controller_config(self) -> dict[str, str]:
        """The controller's configuration (read once; it rarely changes while we run)."""
        if self._ctl_config is None:
            result = await self.check(build.scontrol_show_config())
            self._ctl_config = parsers.parse_config(result.stdout)
        return self._ctl_config

    async def history(self, scope: Scope, since: str) -> History:
        user = self.user if scope == "mine" else None
        try:
            nonce = secrets.token_urlsafe(6)
            result = await self.check(build.sacct(since, nonce, user))
            jobs = _parsed("sacct", lambda: parsers.parse_history(result.stdout, nonce))
            return History(jobs, "accounting")
        except SlurmLabError as exc:
            if "accounting storage is disabled" not in exc.message.lower():
                raise
        disabled = AccountingDisabled("Slurm accounting is disabled on this cluster").message
        config = await self.controller_config()
        if config.get("JobCompType") == "jobcomp/filetxt" and config.get("JobCompLoc"):
            # One parse at a time: concurrent ones would only raise the peak memory.
            async with self._jobcomp_lock:
                with contextlib.suppress(OutputNotAvailable):
                    path = config["JobCompLoc"]
                    size = (await self.cli_host.read_file(path, 0, 0))[1]
                    tail, _ = await self.cli_host.read_file(path, max(0, size - _JOBCOMP_TAIL), _JOBCOMP_TAIL)
                    jobs = [
                        j
                        for j in parsers.parse_jobcomp(tail.decode("utf-8", "replace"))
                        if (user is None or j.user == user) and (j.end_time or "") >= since
                    ]
                    return History(jobs, "jobcomp", f"{disabled}; showing the job-completion log")
        finished = [as_historic(j) for j in await self.list_jobs(scope) if j.end_time]
        return History(
            finished,
            "controller",
            f"{disabled}; showing finished jobs the controller still remembers (MinJobAge)",
        )

    async def min_job_age(self) -> float:
        """Seconds the controller remembers a finished job (MinJobAge)."""
        age = (await self.controller_config()).get("MinJobAge", "").split(" ")[0]  # "300 sec"
        return float(age) if age.isdigit() else _DEFAULT_MIN_JOB_AGE

    # ------------------------------------------------------------- changes
    async def submit(self, script: bytes, flags: Sequence[str], tag: str | None = None) -> SubmitResult:
        result = await self.check(build.sbatch(flags, tag), stdin=script)
        return SubmitResult(_parsed("sbatch", lambda: parsers.parse_sbatch_job_id(result.stdout)))

    async def batch_script(self, job_id: str) -> str:
        result = await self.check(build.scontrol_batch_script(job_id))
        if "retrieval failed" in result.stderr or not result.stdout:
            # Slurm 22.05 exits 0 here: "job script retrieval failed: Invalid job id specified".
            raise diagnose("scontrol", 1, result.stderr or "Invalid job id specified")
        return result.stdout

    async def efficiency(self, job_id: str) -> Efficiency | None:
        try:
            result = await self.check(build.sacct_efficiency(job_id))
        except SlurmLabError as exc:
            if "accounting storage is disabled" in exc.message.lower():
                raise AccountingDisabled("Slurm accounting is disabled on this cluster") from None
            raise
        return _parsed("sacct", lambda: parse_efficiency(result.stdout, job_id))

    async def account(self) -> AccountInfo:
        limits, shares = await asyncio.gather(
            self.run(build.assoc_mgr(self.user)), self.run(build.sshare(self.user))
        )
        for result in (limits, shares):
            if result.returncode != 0:
                if "accounting storage is disabled" in result.stderr.lower():
                    raise AccountingDisabled("Slurm accounting is disabled on this cluster")
                raise diagnose(result.argv[0], result.returncode, result.stderr)
        if _NO_ASSOCIATIONS in limits.stdout and await self._accounting_off():
            # Both answer (empty) without accounting: say so rather than show an empty account.
            raise AccountingDisabled("Slurm accounting is disabled on this cluster")
        uid = _uid_of(self.user)
        return _parsed("scontrol", lambda: parse_account(limits.stdout, shares.stdout, self.user, uid))

    async def _accounting_off(self) -> bool:
        storage = (await self.controller_config()).get("AccountingStorageType")
        return storage == "accounting_storage/none"

    async def nodes(self) -> list[Node]:
        result = await self.check(build.scontrol_show_nodes())
        return _parsed("scontrol", lambda: parsers.parse_nodes(result.stdout))

    async def priorities(self) -> list[Priority]:
        """sprio with priority/multifactor; squeue's priorities without it (priority/basic)."""
        if self._sprio:
            result = await self.run(build.sprio())
            if result.returncode == 0:
                return _parsed("sprio", lambda: parsers.parse_priorities(result.stdout))
            if "priority plugin" not in result.stderr:
                raise diagnose("sprio", result.returncode, result.stderr)
            self._sprio = False  # the cluster's priority plugin does not change while we run
        result = await self.check(build.squeue_priorities())
        return _parsed("squeue", lambda: parsers.parse_priorities(result.stdout))

    async def will_run(self, script: bytes, flags: Sequence[str]) -> WillRun:
        result = await self.check(build.sbatch_test_only(flags), stdin=script)
        return _parsed("sbatch", lambda: parsers.parse_will_run(result.stderr))

    async def find_submitted(self, tag: str) -> str | None:
        """The id of our job whose comment holds ``tag`` (see service.submit), if Slurm has it."""
        nonce = secrets.token_urlsafe(6)
        result = await self.check(build.squeue_comments(nonce))
        return parsers.parse_tagged_job(result.stdout, nonce, tag)

    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        argv = _ACTION_ARGV[action](job_ids)
        result = await self.run(argv)
        failed = _per_job_errors(result.stderr)
        if result.returncode != 0 and not failed:
            error = diagnose(argv[0], result.returncode, result.stderr or result.stdout)
            if len(job_ids) == 1 or isinstance(error, ControllerUnavailable | BackendUnavailable):
                return [ActionResult(j, False, error.message, error.reason) for j in job_ids]
            # A refusal we cannot attribute to one id (scontrol stops at the first): one by one.
            return [r for j in job_ids for r in await self.act(action, [j])]
        results = []
        for job_id in job_ids:
            if job_id in failed:
                error = diagnose(argv[0], result.returncode or 1, failed[job_id])
                if action == "cancel" and isinstance(error, JobFinished):
                    results.append(ActionResult(job_id, True, "already finished"))  # DELETE is idempotent
                else:
                    results.append(ActionResult(job_id, False, error.message, error.reason))
            else:
                results.append(ActionResult(job_id, True))
        return results


def _last_line(text: str) -> str:
    lines = error_lines(text)
    return lines[-1][:200] if lines else ""


#: What a parser raises on output it cannot read.
_PARSE_ERRORS = (ValueError, IndexError, KeyError)


def _parsed(tool: str, parse: Callable[[], T]) -> T:
    """Run a parser; output it cannot read becomes a typed error naming the command."""
    try:
        return parse()
    except _PARSE_ERRORS as exc:
        raise _unreadable(tool, exc) from None


def _unreadable(tool: str, exc: Exception) -> UnexpectedOutput:
    return UnexpectedOutput(f"{tool} printed output slurm-lab cannot read: {str(exc)[:200]}")


def _per_job_errors(stderr: str) -> dict[str, str]:
    """Map job id -> its error line, for tools that report failures per job."""
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        if line.startswith("scancel: Terminating job"):
            continue  # --verbose's progress lines
        m = _PER_JOB_ERROR.search(line)
        if m:
            out.setdefault(m.group(1) or m.group(2), line)
    return out


def _uid_of(user: str) -> int | None:
    """The numeric id assoc_mgr lists per-user QOS limits under (this machine's view of it)."""
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None
