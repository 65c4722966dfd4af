"""What the handlers and the kernels call: the scheduler plus the shared caches, the controller
guard, the identity check and the idempotency store — every rule, once."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_core.paths import jupyter_data_dir

from .cache import CoalescingCache
from .errors import (
    AccountingDisabled,
    AccountingUnavailable,
    IdempotencyConflict,
    InvalidInput,
    JobNotFound,
    NotSupported,
    OutputNotAvailable,
    PermissionDenied,
    SlurmLabError,
    SlurmRejected,
    UnknownUser,
)
from .feed import QueueFeed, Send
from .guard import ControllerGuard
from .idempotency import Claim, IdempotencyStore, fingerprint
from .identity import hub_identity_problem
from .models import (
    AccountInfo,
    ActionResult,
    ClusterStatus,
    Efficiency,
    History,
    Job,
    JobDetails,
    JobScript,
    Node,
    OutputChunk,
    Partition,
    PendingInfo,
    Priority,
    QueueFormat,
    Scope,
    Stream,
    SubmitResult,
    WillRun,
)
from .queue import QueueView, RenderedJobs
from .schedulers import Action, Scheduler
from .schedulers.cli import CliScheduler
from .scripts import ScriptStore
from .site_client import SiteCache
from .slurm.limits import limit_warnings
from .slurm.parsers import durations_to_seconds, parse_uid
from .slurm.reasons import explain
from .slurm.resubmit import options_from_fields, options_from_flags
from .slurm.states import TERMINAL, base_state

if TYPE_CHECKING:
    from .config import SlurmLab
    from .hosts import Host

log = logging.getLogger("slurm_lab.service")


class SlurmLabService:
    """One per server; shared by every request, so every client shares one cache."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        cache_ttl: float,
        idempotency: IdempotencyStore,
        slow_cache_ttl: float = 60.0,
        output_chunk_bytes: int,
        identity_error: UnknownUser | None = None,
        scripts: ScriptStore | None = None,
        retry_after: int = 5,
        push_interval: float = 10.0,
        site: SiteCache | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.cache_ttl = cache_ttl
        #: What every job submitted here was sent with, for "Resubmit".
        self.scripts = scripts or ScriptStore(None)
        #: Set when Slurm would act as someone other than the hub user: "my" jobs, submits and
        #: actions are then refused with it (see identity.py).
        self.identity_error = identity_error
        self.guard = ControllerGuard(scheduler)
        self.queue = QueueView(scheduler, self.guard, cache_ttl, site)
        self.feed = QueueFeed(self.queue, retry_after, max(push_interval, cache_ttl))
        self.idempotency = idempotency
        self.output_chunk_bytes = output_chunk_bytes
        self._status: CoalescingCache[str, ClusterStatus] = CoalescingCache(cache_ttl)
        self._partitions: CoalescingCache[str, list[Partition]] = CoalescingCache(cache_ttl)
        self._nodes: CoalescingCache[str, list[Node]] = CoalescingCache(cache_ttl)
        slow = max(cache_ttl, slow_cache_ttl)  # what Slurm itself recomputes every few minutes
        self._account: CoalescingCache[str, AccountInfo] = CoalescingCache(slow)
        #: One ``scontrol show job`` per job per window, whoever asks; a bounded number of jobs.
        self._details: CoalescingCache[str, JobDetails] = CoalescingCache(cache_ttl, max_entries=256)
        #: Finished jobs' efficiency: sacct once per job per window, a bounded number of jobs.
        self._efficiency: CoalescingCache[str, Efficiency | None] = CoalescingCache(
            cache_ttl, max_entries=256
        )
        #: Every pending job's priority, one sprio (or squeue) per slow window, for every client;
        #: once more when a job is newer than the listing.
        self._priorities: CoalescingCache[str, list[Priority]] = CoalescingCache(slow)
        #: Finished jobs per (scope, since): sacct, or a parse of the job-completion log, is costly.
        self._history: CoalescingCache[tuple[Scope, str], History] = CoalescingCache(cache_ttl, max_entries=4)

    @classmethod
    def from_config(cls, lab: SlurmLab, keep_keys: bool = True) -> SlurmLabService:
        """The service as ``c.SlurmLab`` describes it: the server and every kernel build it so.

        Only the server keeps idempotency keys on disk (``keep_keys``): one writer per file.
        """
        scheduler = lab.make_scheduler()
        data = Path(jupyter_data_dir()) / "slurm_lab"
        path = Path(lab.idempotency_file or data / "idempotency.jsonl")
        scripts = None if lab.scripts_dir == "none" else Path(lab.scripts_dir or data / "scripts")
        return cls(
            scheduler,
            cache_ttl=lab.cache_ttl,
            slow_cache_ttl=lab.slow_cache_ttl,
            idempotency=IdempotencyStore(path.expanduser() if keep_keys else None, lab.idempotency_ttl),
            output_chunk_bytes=lab.output_chunk_bytes,
            identity_error=hub_identity_problem(scheduler.user, lab.check_hub_user),
            scripts=ScriptStore(scripts.expanduser() if scripts else None, lab.scripts_kept),
            retry_after=lab.retry_after,
            push_interval=lab.push_interval,
            site=_site_cache(lab, scheduler),
        )

    def check_identity(self) -> None:
        """Refuse (UnknownUser) when Slurm would act as someone other than the hub user."""
        if self.identity_error is not None:
            raise self.identity_error

    async def jobs(self, scope: Scope) -> list[Job]:
        """The queue as records (kernels, widgets, DataFrames); "mine" needs the right identity."""
        if scope == "mine":
            self.check_identity()
        return await self.queue.jobs(scope)

    def subscribe(self, scope: Scope, send: Send) -> Callable[[], None]:
        """Push ``scope``'s listing and then its changes to ``send``; returns the unsubscribe.
        "mine" needs an identity Slurm and the hub agree on."""
        if scope == "mine":
            self.check_identity()
        return self.feed.subscribe(scope, send)

    async def status(self) -> ClusterStatus:
        return await self._status.value("status", self.scheduler.status)

    async def partitions(self) -> list[Partition]:
        return await self._partitions.value("partitions", self._fetch_partitions)

    async def account(self) -> AccountInfo:
        """The user's share and limits, one look per window; needs the right identity."""
        self.check_identity()
        return await self._account.value("account", lambda: self.guard.run(self.scheduler.account))

    async def nodes(self) -> list[Node]:
        """Every node, one listing per window for every client."""
        return await self._nodes.value("nodes", lambda: self.guard.run(self.scheduler.nodes))

    async def _fetch_partitions(self) -> list[Partition]:
        return await self.guard.run(self.scheduler.partitions)

    async def render_jobs(
        self,
        scope: Scope,
        states: frozenset[str] | None,
        partitions: frozenset[str] | None,
        fmt: QueueFormat = "objects",
    ) -> RenderedJobs:
        """The ``GET jobs`` body; "mine" needs an identity Slurm and the hub agree on."""
        if scope == "mine":
            self.check_identity()
        return await self.queue.render(scope, states, partitions, fmt)

    async def details(self, job_id: str) -> JobDetails:
        return await self._details.value(
            job_id, lambda: self.guard.run(lambda: self.scheduler.job_details(job_id))
        )

    async def job(self, job_id: str) -> JobDetails:
        """One job's fields and, while it pends, why, when it may start and its place in line
        (from one cached priority listing for everyone, never a call per job per client)."""
        details = await self.details(job_id)
        state = base_state(details.fields.get("JobState", ""))
        if state == "PENDING":
            return replace(details, pending=await self._pending(details))
        if state in TERMINAL and details.efficiency is None:
            return replace(details, efficiency=await self.efficiency(job_id))
        return details

    async def efficiency(self, job_id: str) -> Efficiency | None:
        """A finished job's use of what it held, once per job (it no longer changes); None while
        accounting has no record (or no accounting: the rest of an answer stands without it).

        None too while slurmdbd cannot answer: the cache remembers that failure for one window
        only, so the efficiency is back as soon as slurmdbd is."""
        try:
            return await self._efficiency.value(
                job_id, lambda: self.guard.run(lambda: self.scheduler.efficiency(job_id))
            )
        except (AccountingDisabled, AccountingUnavailable, NotSupported):
            return None

    async def _pending(self, details: JobDetails) -> PendingInfo:
        reason = details.fields.get("Reason")
        explained = explain(reason)
        line = await self._priority_line()
        mine = _entries_of(details, line)
        last = self._priorities.last("all")
        if not mine and last and time.time() - last.fetched_at > self.cache_ttl:
            # The listing is older than this job: once more (then a window's wait, as for all).
            self._priorities.invalidate()
            line = await self._priority_line()
            mine = _entries_of(details, line)
        entry = max(mine, key=lambda p: p.priority, default=None)
        rank = ahead = None
        if entry is not None:
            same = [p for p in line if p.partition == entry.partition]
            ahead = len(same)
            # Slurm breaks equal priorities by submit order: the lower job id goes first.
            rank = 1 + sum(_in_line(p) < _in_line(entry) for p in same)
        return PendingInfo(
            reason=None if reason in (None, "None") else reason,
            explanation=explained.text if explained else None,
            action=explained.action or None if explained else None,
            expected_start=_estimate(details.fields.get("StartTime")),
            rank=rank,
            pending_in_partition=ahead,
            priority=entry.priority if entry else None,
            factors=entry.factors if entry else None,
        )

    async def _priority_line(self) -> list[Priority]:
        """Every pending job's priority: one sprio per slow window, for every client."""
        try:
            return await self._priorities.value("all", lambda: self.guard.run(self.scheduler.priorities))
        except SlurmLabError:
            return []  # the place in line is a bonus: the rest of the answer stands without it

    def invalidate(self) -> None:
        """After a change we made: the next reads ask Slurm again."""
        self.queue.invalidate()
        self._details.invalidate()

    async def submit(self, script: bytes, flags: Sequence[str], key: str | None) -> tuple[SubmitResult, bool]:
        """Submit once per idempotency ``key``; returns the result and whether it was a replay.

        A keyed submit whose outcome is unknown (sbatch timed out against a frozen controller,
        or the server died meanwhile) is looked up in Slurm by its tag before any new attempt.
        """
        self.check_identity()
        try:
            if key is None:
                result = await self.guard.run_to_end(lambda: self.scheduler.submit(script, flags))
                self.scripts.keep(result.job_id, script, flags)
                return result, False
            # One flag per option: their order is the client's JSON order, not a different request.
            digest = fingerprint(script.decode("utf-8"), sorted(flags))
            async with self.idempotency.claim(key, digest) as claim:
                if claim.job_id is not None:
                    return SubmitResult(claim.job_id), True
                if claim.attempted and (found := await self._find_earlier_job(claim)):
                    return found, True
                return await self._submit_claimed(claim, script, flags), False
        finally:
            self.invalidate()

    async def _find_earlier_job(self, claim: Claim) -> SubmitResult | None:
        job_id = await self.guard.run(lambda: self.scheduler.find_submitted(claim.tag))
        if job_id is not None:
            self.idempotency.succeeded(claim, job_id)
            return SubmitResult(job_id)
        # Slurm forgets finished jobs after MinJobAge: past that, "not found" proves nothing.
        if time.time() - claim.at > 0.9 * await self.guard.run(self.scheduler.min_job_age):
            when = datetime.fromtimestamp(claim.at).isoformat(timespec="seconds")
            raise IdempotencyConflict(
                f"the submit with this idempotency_key at {when} has an unknown outcome and Slurm no "
                "longer remembers jobs that old; check your jobs, then submit with a new key"
            )
        return None

    async def _submit_claimed(self, claim: Claim, script: bytes, flags: Sequence[str]) -> SubmitResult:
        def attempt() -> Awaitable[SubmitResult]:
            self.idempotency.attempting(claim)
            return self.scheduler.submit(script, flags, claim.tag)

        try:
            result = await self.guard.run_to_end(attempt)
        except (SlurmRejected, PermissionDenied, InvalidInput):
            self.idempotency.failed(claim)  # Slurm said no: no job exists
            raise
        except SlurmLabError as exc:
            if claim.attempted:
                exc.message += (
                    "; whether Slurm made the job is unknown: retry with the same idempotency_key "
                    "and slurm-lab looks for it before submitting again"
                )
                exc.extra["outcome"] = "unknown"
            raise
        self.idempotency.succeeded(claim, result.job_id)
        self.scripts.keep(result.job_id, script, flags)
        return result

    async def job_script(self, job_id: str) -> JobScript:
        """What made a job, to submit it again: the script and options kept when slurm-lab sent
        it, else the script the controller still keeps (``scontrol write batch_script``) with the
        options its record shows; JobNotFound when neither has it."""
        self.check_identity()
        try:
            details: JobDetails | None = await self.details(job_id)
        except JobNotFound:
            details = None
        fields = details.fields if details else {}
        kept = self.scripts.find(job_id)
        if kept is not None and kept.matches(fields.get("SubmitTime")):
            return JobScript(job_id, kept.script, options_from_flags(kept.flags), "kept")
        if details is None or details.source != "controller":
            raise JobNotFound(
                f"Slurm no longer has the script of job {job_id}, and it was not submitted "
                "through slurm-lab here"
            )
        text = await self.guard.run(lambda: self.scheduler.batch_script(job_id))
        return JobScript(job_id, text, options_from_fields(fields), "controller")

    async def will_run(self, script: bytes, flags: Sequence[str]) -> WillRun:
        """Slurm's answer to "when and where would this start?" (``test_only``); makes no job."""
        self.check_identity()
        answer = await self.guard.run(lambda: self.scheduler.will_run(script, flags))
        try:
            account = await self.account()
            partition = next((p for p in await self.partitions() if p.name == answer.partition), None)
        except SlurmLabError:
            return answer  # the limits are a bonus: Slurm's own answer stands without them
        default = durations_to_seconds(partition.default_time or partition.max_time) if partition else None
        minutes = default / 60 if default is not None else None
        return replace(answer, warnings=limit_warnings(account, flags, answer.processors, minutes))

    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        self.check_identity()
        try:
            return await self.guard.run(lambda: self.scheduler.act(action, job_ids))
        finally:
            self.invalidate()

    async def output(self, job_id: str, stream: Stream, offset: int) -> OutputChunk:
        """Tail a job's output, only ever from a file its owner wrote. Once the controller forgot
        the job, the path and owner from the last listing serve."""
        if "_[" in job_id:
            raise OutputNotAvailable(f"{job_id} are pending array tasks: they have no output yet")
        key = "StdOut" if stream == "stdout" else "StdErr"
        try:
            details: JobDetails | None = await self.details(job_id)
        except JobNotFound:
            details = None
        if details is not None and details.source == "controller":
            path, owner = details.fields.get(key), details.user_id
        elif job := self.queue.known_job(job_id):  # accounting does not keep output paths
            path, owner = (job.stdout_path if stream == "stdout" else job.stderr_path), job.user_id
        elif details is None:
            raise JobNotFound("no such job (Slurm: Invalid job id specified)")
        else:
            raise OutputNotAvailable(f"Slurm no longer says where job {job_id} wrote its output")
        if not path or path in {"(null)", "/dev/null"}:
            raise OutputNotAvailable(f"job {job_id} has no {stream} file")
        if owner is None:
            raise OutputNotAvailable(f"Slurm did not say who owns job {job_id}")
        return await self.scheduler.read_job_file(
            job_id, stream, path, owner, offset, self.output_chunk_bytes
        )

    async def history(self, scope: Scope, since: str) -> History:
        if scope == "mine":
            self.check_identity()
        return await self._history.value(
            (scope, since), lambda: self.guard.run(lambda: self.scheduler.history(scope, since))
        )

    @property
    def files_are_local(self) -> bool:
        """Whether the cluster-side files are this machine's (the local host)."""
        host = self.scheduler.host
        return host is not None and host.name == "local"

    def files(self, purpose: str) -> Host:
        """The cluster-side host for files and programs (%%slurm runs); NotSupported (501)
        naming ``purpose`` when the scheduler has none."""
        return self.scheduler.files(purpose)

    async def close(self) -> None:
        await self.scheduler.close()


def _site_cache(lab: SlurmLab, scheduler: Scheduler) -> SiteCache | None:
    """The client of ``c.SlurmLab.site_cache``: with the local backend only, where the socket's
    peer (this process's user) is the account Slurm sees."""
    if not lab.site_cache:
        return None
    if not isinstance(scheduler, CliScheduler) or scheduler.backend != "local":
        log.warning("slurm-lab: c.SlurmLab.site_cache needs the local backend; listing with squeue")
        return None

    async def trusted() -> frozenset[int]:
        """Root and SlurmUser (the controller's configuration is read once per process)."""
        slurm_user = parse_uid((await scheduler.controller_config()).get("SlurmUser"))
        return frozenset({0} if slurm_user is None else {0, slurm_user})

    return SiteCache(
        lab.site_cache, trusted=trusted, max_bytes=lab.max_output_bytes, wait_timeout=lab.command_timeout
    )


#: Backfill's placeholder for "no estimate": about a year ahead.
_NO_ESTIMATE = timedelta(days=300)


def _estimate(start: str | None) -> str | None:
    """Slurm's expected start of a pending job, or None when it has no real estimate."""
    try:
        when = datetime.fromisoformat(start or "")
    except ValueError:
        return None
    return start if when - datetime.now() < _NO_ESTIMATE else None


def _entries_of(details: JobDetails, line: list[Priority]) -> list[Priority]:
    """The job's entries in the priority listing: itself, else its array's pending tasks."""
    ids = (details.job_id, details.fields.get("JobId"))
    array_id = details.job_id.split("_")[0]
    return [p for p in line if p.job_id in ids] or [p for p in line if p.job_id.split("_")[0] == array_id]


def _in_line(entry: Priority) -> tuple[int, int]:
    """Sort key of a pending job in its partition's line: priority first, then job id."""
    number = entry.job_id.split("_")[0]
    return (-entry.priority, int(number) if number.isdigit() else 0)
