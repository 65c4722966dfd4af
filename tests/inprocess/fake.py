"""An in-memory Scheduler for the in-process tier: real-looking jobs, scripted failures, recorded calls.

The queue and the job records come from the output captured on the dev cluster
(tests/fixtures/squeue_all.txt, scontrol_show_job_*.txt), read by slurm-lab's own parsers, so
the server serves what it would serve from Slurm. Tests reach the instance the server built with
``jp_serverapp.web_app.settings["slurm_lab_service"].scheduler`` and script it:

    fake.fail_next("list_jobs", UnexpectedOutput("squeue printed ..."))
    fake.slow("list_jobs", math.inf)            # hangs until the guard cancels it
    fake.probe_problem = ControllerUnavailable("slurmctld does not answer")
    fake.refuse("17", JobFinished("the job has already finished"))

and check what reached it: ``fake.calls["submit"]``, ``fake.submits``, ``fake.actions``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections import Counter, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from traitlets import Float, Unicode

from slurm_lab.errors import JobNotFound, SlurmLabError
from slurm_lab.models import (
    ActionResult,
    ClusterStatus,
    HistoricJob,
    History,
    Job,
    JobDetails,
    Node,
    OutputChunk,
    Partition,
    Priority,
    Scope,
    Stream,
    SubmitResult,
)
from slurm_lab.schedulers.base import Action, Scheduler
from slurm_lab.slurm import parsers

FIXTURES = Path(__file__).parent.parent / "fixtures"
#: squeue_all.txt was captured with argv.queue_format("TESTNONCE").
QUEUE_NONCE = "TESTNONCE"


def captured_jobs() -> list[Job]:
    """The captured queue: 8 jobs of slab-alice and slab-bob, hostile names, collapsed arrays."""
    return parsers.parse_queue((FIXTURES / "squeue_all.txt").read_text(), QUEUE_NONCE)


def captured_details() -> dict[str, JobDetails]:
    """``scontrol show job`` records captured from the dev cluster, by the id one asks with."""
    out = {}
    for name, ids in (
        ("scontrol_show_job_array.txt", ["2"]),
        ("scontrol_show_job_array_running.txt", ["20", "20_0", "20_1", "20_[2-3]", "21", "22"]),
        ("scontrol_show_job_pending.txt", ["3"]),
        ("scontrol_show_job_running.txt", ["4"]),
    ):
        text = (FIXTURES / name).read_text()
        for job_id in ids:
            out[job_id] = parsers.parse_job_details(text, job_id)
    return out


@dataclasses.dataclass(frozen=True)
class Submitted:
    script: bytes
    flags: list[str]
    tag: str | None
    job_id: str


def clone(error: BaseException) -> BaseException:
    """A fresh copy of ``error`` (the service appends to a raised error's message; a scripted
    error raised twice must not carry the first request's additions)."""
    copy = type(error).__new__(type(error))
    copy.__dict__.update(error.__dict__)
    copy.args = error.args
    if isinstance(copy, SlurmLabError):
        copy.extra = dict(copy.extra)
    return copy


class FakeScheduler(Scheduler):
    """Serves configurable in-memory jobs; can fail, hang or be slow on any call; counts calls."""

    name = "fake"

    user_name = Unicode("slab-alice", config=True, help="The user Slurm would see.")
    min_age = Float(300.0, config=True, help="What min_job_age() answers (Slurm's MinJobAge).")

    def __init__(self, host: Any = None, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.jobs: list[Job] = captured_jobs()
        self.details: dict[str, JobDetails] = captured_details()
        self.partition_list = [
            Partition("debug", True, "up", None, None, 1, 2, 1, 1, "vm"),
            Partition("long", False, "up", "7-00:00:00", "1:00:00", 1, 2, 1, 1, "vm"),
        ]
        #: Calls that reached the fake, by method name (including failed and cancelled ones).
        self.calls: Counter[str] = Counter()
        #: Calls cancelled while in progress (the guard kills a command it gave up on).
        self.cancelled: Counter[str] = Counter()
        self.submits: list[Submitted] = []
        self.actions: list[tuple[str, list[str]]] = []
        #: tag -> job id of the jobs Slurm made (what find_submitted looks through).
        self.tags: dict[str, str] = {}
        #: What probe() answers: None (the controller answers) or the typed error saying why not.
        self.probe_problem: SlurmLabError | None = None
        #: Bytes of the files read_job_file serves, by path; other paths fall to the base class.
        self.files_by_path: dict[str, bytes] = {}
        self.reads: list[tuple[str, Stream, str, int, int]] = []
        self._failures: dict[str, deque[tuple[BaseException, bool]]] = {}
        self._delays: dict[str, float] = {}
        self._refusals: dict[str, SlurmLabError] = {}
        self._next_id = 1000

    # -- scripting ---------------------------------------------------------------------------

    def fail_next(self, method: str, error: BaseException, times: int = 1, *, after: bool = False) -> None:
        """The next ``times`` calls of ``method`` raise ``error``. ``after``: only once the call
        did its work (a submit that made the job, then timed out: an unknown outcome)."""
        self._failures.setdefault(method, deque()).extend([(error, after)] * times)

    def slow(self, method: str, seconds: float) -> None:
        """Every call of ``method`` first waits ``seconds`` (math.inf: until cancelled; 0: no wait)."""
        self._delays[method] = seconds

    def refuse(self, job_id: str, error: SlurmLabError) -> None:
        """act() reports ``job_id`` as refused with ``error``'s message and reason."""
        self._refusals[job_id] = error

    def job(self, job_id: str) -> Job:
        return next(j for j in self.jobs if j.job_id == job_id)

    def set_state(self, job_id: str, state: str, reason: str | None = None) -> None:
        self.jobs = [
            dataclasses.replace(j, state=state, reason=reason) if j.job_id == job_id else j for j in self.jobs
        ]

    # -- plumbing ------------------------------------------------------------------------------

    async def _enter(self, method: str) -> bool:
        """Count the call, wait as told, raise a scripted failure; True when one is due afterwards."""
        self.calls[method] += 1
        delay = self._delays.get(method, 0.0)
        try:
            if delay == math.inf:
                await asyncio.Event().wait()
            elif delay:
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.cancelled[method] += 1
            raise
        queue = self._failures.get(method)
        if queue:
            error, after = queue[0]
            if not after:
                queue.popleft()
                raise clone(error)
            return True
        return False

    def _leave(self, method: str, failing: bool) -> None:
        if failing:
            error, _ = self._failures[method].popleft()
            raise clone(error)

    # -- the Scheduler seam ----------------------------------------------------------------------

    @property
    def user(self) -> str:
        return str(self.user_name)

    async def list_jobs(self, scope: Scope) -> list[Job]:
        failing = await self._enter("list_jobs")
        jobs = [j for j in self.jobs if scope == "all" or j.user == self.user]
        self._leave("list_jobs", failing)
        return jobs

    async def nodes(self) -> list[Node]:
        """The nodes of a 4-node dev cluster with GPUs, as scontrol printed them."""
        failing = await self._enter("nodes")
        nodes = parsers.parse_nodes((FIXTURES / "scontrol_show_node_site.txt").read_text())
        self._leave("nodes", failing)
        return nodes

    async def priorities(self) -> list[Priority]:
        """Pending jobs in listing order, each a step lower in priority (no factors)."""
        failing = await self._enter("priorities")
        pending = [j for j in self.jobs if j.state == "PENDING"]
        line = [Priority(j.job_id, j.partition, 1000 - i) for i, j in enumerate(pending)]
        self._leave("priorities", failing)
        return line

    async def job_details(self, job_id: str) -> JobDetails:
        failing = await self._enter("job_details")
        details = self.details.get(job_id)
        if details is None:
            job = next((j for j in self.jobs if j.job_id == job_id), None)
            if job is None:
                raise JobNotFound(f"no such job {job_id} (Slurm: Invalid job id specified)")
            fields = {
                "JobId": job_id,
                "JobName": job.name,
                "JobState": job.state,
                "Reason": job.reason or "None",
            }
            fields.update({"UserId": f"{job.user}({job.user_id})", "Partition": job.partition})
            fields.update({"StdOut": job.stdout_path or "", "StdErr": job.stderr_path or ""})
            details = JobDetails(job_id, "controller", fields, job.user_id)
        self._leave("job_details", failing)
        return details

    async def submit(self, script: bytes, flags: Sequence[str], tag: str | None = None) -> SubmitResult:
        failing = await self._enter("submit")
        self._next_id += 1
        job_id = str(self._next_id)
        self.submits.append(Submitted(script, list(flags), tag, job_id))
        if tag:
            self.tags[tag] = job_id
        template = self.job("14")
        self.jobs.append(
            dataclasses.replace(
                template, job_id=job_id, user=self.user, state="PENDING", reason="Priority", nodes=None
            )
        )
        self._leave("submit", failing)
        return SubmitResult(job_id)

    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        failing = await self._enter("act")
        self.actions.append((action, list(job_ids)))
        results = []
        for job_id in job_ids:
            refusal = self._refusals.get(job_id)
            if refusal is not None:
                results.append(ActionResult(job_id, False, refusal.message, refusal.reason))
                continue
            if action == "cancel":
                self.set_state(job_id, "CANCELLED")
            else:
                self.set_state(job_id, "PENDING", "JobHeldUser" if action == "hold" else None)
            results.append(ActionResult(job_id, True))
        self._leave("act", failing)
        return results

    async def partitions(self) -> list[Partition]:
        failing = await self._enter("partitions")
        self._leave("partitions", failing)
        return list(self.partition_list)

    async def probe(self) -> SlurmLabError | None:
        self.calls["probe"] += 1
        return None if self.probe_problem is None else clone(self.probe_problem)  # type: ignore[return-value]

    async def status(self) -> ClusterStatus:
        failing = await self._enter("status")
        problem = await self.probe()
        self._leave("status", failing)
        return ClusterStatus(
            backend=self.backend,
            cluster_name="fakecluster",
            slurm_version="22.05.8",
            user=self.user,
            controller="down" if problem else "up",
            message=problem.message if problem else "",
        )

    async def find_submitted(self, tag: str) -> str | None:
        failing = await self._enter("find_submitted")
        self._leave("find_submitted", failing)
        return self.tags.get(tag)

    async def min_job_age(self) -> float:
        self.calls["min_job_age"] += 1
        return float(self.min_age)

    async def history(self, scope: Scope, since: str) -> History:
        failing = await self._enter("history")
        self._leave("history", failing)
        done = HistoricJob(
            "9", "old", self.user, "debug", "COMPLETED", "0:0", None, None, None, "0:01", 1, "vm", "/tmp"
        )
        return History([done], "controller", "accounting is off: only jobs the controller remembers")

    async def read_job_file(
        self, job_id: str, stream: Stream, path: str, owner_uid: int, offset: int, limit: int
    ) -> OutputChunk:
        self.calls["read_job_file"] += 1
        self.reads.append((job_id, stream, path, owner_uid, offset))
        if path not in self.files_by_path:  # with no host (the tier's default): NotSupported, 501
            return await super().read_job_file(job_id, stream, path, owner_uid, offset, limit)
        data = self.files_by_path[path]
        chunk = data[offset : offset + limit]
        return OutputChunk(job_id, stream, path, offset, offset + len(chunk), len(data), chunk.decode())
