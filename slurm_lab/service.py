"""What the handlers call: the backend plus the shared queue cache and the idempotency store."""

from __future__ import annotations

from collections.abc import Sequence

from .backends import Action, SlurmBackend
from .cache import CoalescingCache, FetchFailed
from .errors import JobNotFound
from .idempotency import IdempotencyStore, fingerprint
from .models import ActionResult, ClusterStatus, History, JobDetails, OutputChunk, Scope, Stream, SubmitResult
from .queue import QueueView


class SlurmLabService:
    """One per server; shared by every request, so every client shares one cache."""

    def __init__(
        self,
        backend: SlurmBackend,
        *,
        cache_ttl: float,
        idempotency: IdempotencyStore,
        output_chunk_bytes: int,
    ) -> None:
        self.backend = backend
        self.queue = QueueView(backend, cache_ttl)
        self.idempotency = idempotency
        self.output_chunk_bytes = output_chunk_bytes
        self._status: CoalescingCache[str, ClusterStatus] = CoalescingCache(cache_ttl)

    async def status(self) -> ClusterStatus:
        try:
            return (await self._status.get("status", self.backend.status)).value
        except FetchFailed as exc:
            raise exc.error from None

    async def details(self, job_id: str) -> JobDetails:
        return await self.backend.job_details(job_id)

    async def submit(
        self, script: bytes, flags: Sequence[str], key: str | None
    ) -> tuple[SubmitResult, bool]:
        """Submit once per idempotency ``key``; returns the result and whether it was a replay."""
        try:
            if key is None:
                return await self.backend.submit(script, flags), False
            digest = fingerprint(script.decode("utf-8"), list(flags))
            return await self.idempotency.submit_once(
                key, digest, lambda: self.backend.submit(script, flags)
            )
        finally:
            self.queue.invalidate()

    async def act(self, action: Action, job_ids: Sequence[str]) -> list[ActionResult]:
        try:
            return await self.backend.act(action, job_ids)
        finally:
            self.queue.invalidate()

    async def output(self, job_id: str, stream: Stream, offset: int) -> OutputChunk:
        """Tail a job's output; uses the path from the last listing once the controller forgot the job."""
        try:
            return await self.backend.read_output(job_id, stream, offset, self.output_chunk_bytes)
        except JobNotFound:
            job = self.queue.known_job(job_id)
            path = job and (job.stdout_path if stream == "stdout" else job.stderr_path)
            if not path:
                raise
            return await self.backend.read_output_file(
                job_id, stream, path, offset, self.output_chunk_bytes
            )

    async def history(self, scope: Scope, since: str) -> History:
        return await self.backend.history(scope, since)

    async def close(self) -> None:
        await self.backend.close()
