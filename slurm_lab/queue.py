"""The queue as clients see it: one cached squeue per scope, filtered and encoded once per change."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from .cache import CoalescingCache, FetchFailed, Snapshot
from .errors import SlurmLabError
from .guard import ControllerGuard
from .models import Job, Scope
from .schedulers import Scheduler
from .slurm.reasons import explain
from .slurm.states import base_state

#: Encoded bodies kept for the current snapshots (one per scope x filter x staleness in use).
_MEMO_SIZE = 8


@dataclass(frozen=True, slots=True)
class RenderedJobs:
    """A ``GET jobs`` listing ready to send: its encoded jobs, ETag and age; ``error`` is set when
    the data are stale (the last good ones, kept while Slurm cannot answer)."""

    jobs_json: bytes
    explanations_json: bytes
    etag: str
    fetched_at: str
    stale: bool
    error: SlurmLabError | None = None

    def body(self, **extra: object) -> bytes:
        """The JSON body: the jobs (encoded once, embedded as they are), what their pending
        reasons mean (once per distinct reason), their age, ``extra``."""
        return orjson.dumps(
            {
                "jobs": orjson.Fragment(self.jobs_json),
                "explanations": orjson.Fragment(self.explanations_json),
                "fetched_at": self.fetched_at,
                "stale": self.stale,
                **extra,
            }
        )


class QueueView:
    """Serves every client from one coalesced, cached squeue call per scope."""

    def __init__(self, scheduler: Scheduler, guard: ControllerGuard, ttl: float) -> None:
        self.scheduler = scheduler
        self.guard = guard
        self.cache: CoalescingCache[Scope, list[Job]] = CoalescingCache(ttl)
        self._memo: OrderedDict[tuple[object, ...], tuple[bytes, bytes, str]] = OrderedDict()

    async def snapshot(self, scope: Scope) -> Snapshot[list[Job]]:
        """The current queue; raises FetchFailed (with the last good snapshot) on failure."""
        return await self.cache.get(scope, lambda: self._list(scope))

    async def jobs(self, scope: Scope) -> list[Job]:
        """The current queue, or the typed error when it cannot be had."""
        return await self.cache.value(scope, lambda: self._list(scope))

    async def _list(self, scope: Scope) -> list[Job]:
        return await self.guard.run(lambda: self.scheduler.list_jobs(scope))

    def invalidate(self) -> None:
        self.cache.invalidate()

    def known_job(self, job_id: str) -> Job | None:
        """A job from any cached listing (useful once the controller has forgotten it)."""
        for scope in ("mine", "all"):
            snap = self.cache.last(scope)  # type: ignore[arg-type]
            for job in snap.value if snap else ():
                if job.job_id == job_id:
                    return job
        return None

    async def render(
        self, scope: Scope, states: frozenset[str] | None, partitions: frozenset[str] | None
    ) -> RenderedJobs:
        """The encoded listing; when Slurm fails, the last good one marked stale (or the error)."""
        error = None
        try:
            snap = await self.snapshot(scope)
        except FetchFailed as exc:
            if exc.last is None:
                raise exc.error from None
            snap, error = exc.last, exc.error
        jobs_json, explanations_json, etag = self._encode(scope, snap, states, partitions)
        fetched = datetime.fromtimestamp(snap.fetched_at, timezone.utc).isoformat(timespec="milliseconds")
        return RenderedJobs(
            jobs_json, explanations_json, etag, fetched.replace("+00:00", "Z"), error is not None, error
        )

    def _encode(
        self,
        scope: Scope,
        snap: Snapshot[list[Job]],
        states: frozenset[str] | None,
        partitions: frozenset[str] | None,
    ) -> tuple[bytes, bytes, str]:
        """Encode the jobs once per (snapshot, filter): every other client gets the same bytes.

        Bodies of an older snapshot of the same scope are dropped at once: nobody is served them
        again, and at 10,000 jobs each is megabytes.
        """
        key = (scope, snap.serial, states, partitions)
        hit = self._memo.get(key)
        if hit:
            self._memo.move_to_end(key)
            return hit
        for old in [k for k in self._memo if k[0] == scope and k[1] != snap.serial]:
            del self._memo[old]
        jobs = list(_filter(snap.value, states, partitions))
        jobs_json = orjson.dumps(jobs)
        reasons = {j.reason for j in jobs if j.reason and base_state(j.state) == "PENDING"}
        explained = {r: e for r in sorted(reasons) if (e := explain(r))}
        # The ETag covers the jobs only, so an unchanged queue revalidates (304) across refreshes.
        etag = '"' + hashlib.sha256(jobs_json).hexdigest()[:24] + '"'
        self._memo[key] = (
            jobs_json,
            orjson.dumps({r: {"text": e.text, "action": e.action} for r, e in explained.items()}),
            etag,
        )
        if len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)
        return self._memo[key]


def _filter(
    jobs: list[Job], states: frozenset[str] | None, partitions: frozenset[str] | None
) -> Iterable[Job]:
    if states is None and partitions is None:
        return jobs
    return (
        j
        for j in jobs
        if (states is None or base_state(j.state) in states)
        and (partitions is None or j.partition in partitions)
    )
