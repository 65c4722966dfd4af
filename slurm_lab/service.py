"""What the handlers call: the backend plus the shared queue cache and the idempotency store."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from .backends import Action, SlurmBackend
from .cache import CoalescingCache
from .errors import UnknownUser
from .guard import ControllerGuard
from .idempotency import IdempotencyStore, fingerprint
from .models import (
    ActionResult,
    ClusterStatus,
    History,
    JobDetails,
    OutputChunk,
    Partition,
    Scope,
    Stream,
    SubmitResult,
)
from .queue import QueueView, RenderedJobs


class SlurmLabService:
    """One per server; shared by every request, so every client shares one cache."""

    def __init__(
        self,
        backend: SlurmBackend,
        *,
        cache_ttl: float,
        idempotency: IdempotencyStore,
        output_chunk_bytes: int,
        identity_error: UnknownUser | None = None,
    ) -> None:
        self.backend = backend
        #: Set when Slurm would act as someone other than the hub user: "my" jobs, submits and
        #: actions are then refused with it (see identity.py).
        self.identity_error = identity_error
        self.guard = ControllerGuard(backend)
        self.queue = QueueView(backend, self.guard, cache_ttl)
        self.idempotency = idempotency
        self.output_chunk_bytes = output_chunk_bytes
        self._status: CoalescingCache[str, ClusterStatus] = CoalescingCache(cache_ttl)
        self._partitions: CoalescingCache[str, list[Partition]] = CoalescingCache(cache_ttl)

    async def status(self) -> ClusterStatus:
        return await self._status.value("status", self.backend.status)

    async def partitions(self) -> list[Partition]:
        return await self._partitions.value("partitions", self._fetch_partitions)

    async def _fetch_partitions(self) -> list[Partition]:
        return await self.guard.run(self.backend.partitions)

    def _check_identity(self) -> None:
        if self.identity_error is not None:
            raise self.identity_error

    async def render_jobs(
        self, scope: Scope, states: frozenset[str] | None, partitions: frozenset[str] | None
    ) -> RenderedJobs:
        """The ``GET jobs`` body; "mine" needs an identity Slurm and the hub agree on."""
        if scope == "mine":
            self._check_identity()
        return await self.queue.render(scope, states, partitions)

    async def details(self, job_id: str) -> JobDetails:
        return await self.guard.run(lambda: self.backend.job_details(job_id))

    async def submit(self, script: bytes, flags: Sequence[str], key: str | None) -> tuple[SubmitResult, bool]:
        """Submit once per idempotency ``key``; returns the result and whether it was a replay."""

        self._check_identity()

        def submit() -> Awaitable[SubmitResult]:
            return self.backend.submit(script, flags)

        try:
            if key is None:
                return await self.guard.run_to_end(submit), False
            digest = fingerprint(script.decode("utf-8"), list(flags))
            return await self.idempotency.submit_once(key, digest, lambda: self.guard.run_to_end(submit))
        finally:
            self.queue.invalidate()

    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        self._check_identity()
        try:
            return await self.guard.run(lambda: self.backend.act(action, job_ids))
        finally:
            self.queue.invalidate()

    async def output(self, job_id: str, stream: Stream, offset: int) -> OutputChunk:
        """Tail a job's output; once the controller forgot the job, the path from the last listing serves."""
        job = self.queue.known_job(job_id)
        fallback = (job.stdout_path if stream == "stdout" else job.stderr_path) if job else None
        return await self.guard.run(
            lambda: self.backend.read_output(job_id, stream, offset, self.output_chunk_bytes, fallback)
        )

    async def history(self, scope: Scope, since: str) -> History:
        if scope == "mine":
            self._check_identity()
        return await self.guard.run(lambda: self.backend.history(scope, since))

    async def close(self) -> None:
        await self.backend.close()
