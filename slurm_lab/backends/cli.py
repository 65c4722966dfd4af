"""Slurm through its command-line tools. Subclasses say only how a command runs and a file is read."""

from __future__ import annotations

import abc
import codecs
import contextlib
import re
from collections.abc import Sequence

from ..errors import (
    AccountingDisabled,
    CommandFailed,
    ControllerUnavailable,
    JobNotFound,
    OutputNotAvailable,
    SlurmLabError,
)
from ..models import (
    ActionResult,
    ClusterStatus,
    HistoricJob,
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
from ..slurm import argv as build
from ..slurm import parsers
from ..slurm.diagnose import diagnose
from .base import Action, SlurmBackend

_ACTION_ARGV = {
    "cancel": build.scancel,
    "hold": build.scontrol_hold,
    "release": build.scontrol_release,
}
# "Kill job error on job id 3: Access/permission denied", "Invalid user id for job 3", ...
_JOBCOMP_TAIL = 4 << 20  # read at most the last 4 MiB of the job-completion log
_PER_JOB_ERROR = re.compile(r"(?:job id|for job|Job ID|JobId=)\s*(\d+(?:_\d+)?)\b[:\s]*(.*)")


class CliBackend(SlurmBackend):
    """All Slurm knowledge of the backends; the transport is left to :meth:`run` and :meth:`read_file`."""

    def __init__(self) -> None:
        self._version: str | None = None
        self._ctl_config: dict[str, str] | None = None

    # ------------------------------------------------------------- transport
    @abc.abstractmethod
    async def run(self, argv: Sequence[str], stdin: bytes | None = None) -> CommandResult:
        """Run a Slurm CLI (``argv[0]`` is a bare program name) and return its result."""

    async def check(self, argv: Sequence[str], stdin: bytes | None = None) -> CommandResult:
        """Run and raise the diagnosed typed error on a non-zero exit."""
        result = await self.run(argv, stdin)
        if result.returncode != 0:
            raise diagnose(argv[0], result.returncode, result.stderr)
        return result

    # ------------------------------------------------------------- queries
    async def list_jobs(self, scope: Scope) -> list[Job]:
        result = await self.check(build.squeue(scope))
        return parsers.parse_queue(result.stdout)

    async def job_details(self, job_id: str) -> JobDetails:
        result = await self.check(build.scontrol_show_job(job_id))
        return parsers.parse_job_details(result.stdout, job_id)

    async def partitions(self) -> list[Partition]:
        result = await self.check(build.sinfo_partitions())
        return parsers.parse_partitions(result.stdout)

    async def ping(self) -> bool:
        result = await self.run(build.scontrol_ping())
        return result.returncode == 0 and parsers.parse_ping(result.stdout)

    async def status(self) -> ClusterStatus:
        ping = await self.run(build.scontrol_ping())
        up = ping.returncode == 0 and parsers.parse_ping(ping.stdout)
        if not up:
            error = diagnose("scontrol", ping.returncode or 1, ping.stderr or ping.stdout)
            if not isinstance(error, ControllerUnavailable | CommandFailed):
                raise error
        if self._version is None:
            self._version = parsers.parse_version((await self.check(build.slurm_version())).stdout)
        config = await self.controller_config() if up else (self._ctl_config or {})
        return ClusterStatus(
            backend=self.name,
            cluster_name=config.get("ClusterName"),
            slurm_version=self._version,
            user=self.user,
            controller="up" if up else "down",
            message="" if up else (ping.stdout.strip() or ping.stderr.strip())[:300],
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
            result = await self.check(build.sacct(since, user))
            return History(parsers.parse_history(result.stdout), "accounting")
        except SlurmLabError as exc:
            if "accounting storage is disabled" not in exc.message.lower():
                raise
        disabled = AccountingDisabled("Slurm accounting is disabled on this cluster").message
        config = await self.controller_config()
        if config.get("JobCompType") == "jobcomp/filetxt" and config.get("JobCompLoc"):
            with contextlib.suppress(OutputNotAvailable):
                path = config["JobCompLoc"]
                size = (await self.read_file(path, 0, 0))[1]
                tail, _ = await self.read_file(path, max(0, size - _JOBCOMP_TAIL), _JOBCOMP_TAIL)
                jobs = [
                    j
                    for j in parsers.parse_jobcomp(tail.decode("utf-8", "replace"))
                    if (user is None or j.user == user) and (j.end_time or "") >= since
                ]
                return History(jobs, "jobcomp", f"{disabled}; showing the job-completion log")
        finished = [_as_historic(j) for j in await self.list_jobs(scope) if j.end_time]
        return History(
            finished,
            "controller",
            f"{disabled}; showing finished jobs the controller still remembers (MinJobAge)",
        )

    # ------------------------------------------------------------- changes
    async def submit(self, script: bytes, flags: Sequence[str]) -> SubmitResult:
        result = await self.check(build.sbatch(flags), stdin=script)
        return SubmitResult(parsers.parse_sbatch_job_id(result.stdout))

    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        argv = _ACTION_ARGV[action](job_ids)
        result = await self.run(argv)
        failed = _per_job_errors(result.stderr)
        if result.returncode != 0 and not failed:
            error = diagnose(argv[0], result.returncode, result.stderr)
            if len(job_ids) == 1 or not isinstance(error, JobNotFound):
                return [ActionResult(j, False, error.message, error.reason) for j in job_ids]
            # One unknown id fails the whole scontrol call: retry one by one.
            return [r for j in job_ids for r in await self.act(action, [j])]
        results = []
        for job_id in job_ids:
            if job_id in failed:
                error = diagnose(argv[0], result.returncode or 1, failed[job_id])
                results.append(ActionResult(job_id, False, error.message, error.reason))
            else:
                results.append(ActionResult(job_id, True))
        return results

    # ------------------------------------------------------------- output
    async def read_output(
        self, job_id: str, stream: Stream, offset: int, limit: int, fallback_path: str | None = None
    ) -> OutputChunk:
        try:
            details = await self.job_details(job_id)
            path = details.fields.get("StdOut" if stream == "stdout" else "StdErr", "")
        except JobNotFound:
            if not fallback_path:
                raise
            path = fallback_path
        if not path or path in {"(null)", "/dev/null"}:
            raise OutputNotAvailable(f"job {job_id} has no {stream} file")
        return await self.read_output_file(job_id, stream, path, offset, limit)

    async def read_output_file(
        self, job_id: str, stream: Stream, path: str, offset: int, limit: int
    ) -> OutputChunk:
        """Read a known output path; a file shorter than ``offset`` (rewritten) is read from 0."""
        data, size = await self.read_file(path, offset, limit)
        if offset > size:
            offset = 0
            data, size = await self.read_file(path, 0, limit)
        text, used = _decode_whole_chars(data)
        return OutputChunk(job_id, stream, path, offset, offset + used, size, text)


def _per_job_errors(stderr: str) -> dict[str, str]:
    """Map job id -> its error line, for tools that report failures per job."""
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        m = _PER_JOB_ERROR.search(line)
        if m:
            out.setdefault(m.group(1), line)
    return out


def _decode_whole_chars(data: bytes) -> tuple[str, int]:
    """Decode UTF-8, leaving a character cut at the chunk's end for the next read."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text = decoder.decode(data, final=False)
    return text, len(data) - len(decoder.getstate()[0])


def _as_historic(job: Job) -> HistoricJob:
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
