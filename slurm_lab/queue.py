"""The queue as clients see it: one cached squeue per scope, filtered and encoded once per change.

Reads never wait for Slurm once a scope has been fetched (see cache.py's ``background``), and
parsing and encoding run in worker threads, so a 100,000-job refresh does not hold up the
requests around it. Only the bodies of each scope's current listing are kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, TypeVar

import orjson

from .cache import CoalescingCache, FetchFailed, Snapshot
from .errors import SlurmLabError
from .guard import ControllerGuard
from .models import JOB_FIELDS, Job, JobRow, QueueFormat, QueueTable, Scope
from .schedulers import Scheduler
from .site_client import SiteCache
from .slurm.reasons import explain
from .slurm.states import base_state

Filter = frozenset[str] | None

_STATE = JOB_FIELDS.index("state")
_REASON = JOB_FIELDS.index("reason")
_PARTITION = JOB_FIELDS.index("partition")
_FIELDS_JSON = orjson.dumps(JOB_FIELDS)
#: Encodings kept per scope for its current listing (formats x filters in use).
_PER_LISTING = 4


@dataclass(frozen=True, slots=True)
class Encoded:
    """One listing filtered and encoded: its jobs, what their pending reasons mean, its ETag."""

    jobs_json: bytes
    explanations_json: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class RenderedJobs:
    """A ``GET jobs`` listing ready to send: its encoded jobs, ETag and age; ``error`` is set when
    the data are stale (the last good ones, kept while Slurm cannot answer)."""

    encoded: Encoded
    format: QueueFormat
    fetched_at: str
    stale: bool
    error: SlurmLabError | None = None

    @property
    def etag(self) -> str:
        return self.encoded.etag

    def body(self, **extra: object) -> bytes:
        """The JSON body: the jobs (encoded once, embedded as they are), what their pending
        reasons mean (once per distinct reason), their age, ``extra``."""
        jobs = orjson.Fragment(self.encoded.jobs_json)
        head = (
            {"format": "table", "fields": orjson.Fragment(_FIELDS_JSON), "rows": jobs}
            if self.format == "table"
            else {"jobs": jobs}
        )
        return orjson.dumps(
            {
                **head,
                "explanations": orjson.Fragment(self.encoded.explanations_json),
                "fetched_at": self.fetched_at,
                "stale": self.stale,
                **extra,
            }
        )


class QueueView:
    """Serves every client from one coalesced, cached squeue call per scope."""

    def __init__(
        self, scheduler: Scheduler, guard: ControllerGuard, ttl: float, site: SiteCache | None = None
    ) -> None:
        self.scheduler = scheduler
        self.guard = guard
        #: The host's shared site cache, asked first when there is one (see site_client.py).
        self.site = site
        self.cache: CoalescingCache[Scope, QueueTable] = CoalescingCache(ttl, background=True)
        self._took: dict[Scope, float] = {}  # seconds the last listing of each scope took
        self._encodings: dict[Scope, Encodings[tuple[Filter, Filter, QueueFormat]]] = {}

    async def snapshot(self, scope: Scope) -> Snapshot[QueueTable]:
        """The current queue; raises FetchFailed (with the last good snapshot) on failure."""
        return await self.cache.get(scope, lambda: self._list(scope))

    async def fresh(self, scope: Scope) -> Snapshot[QueueTable]:
        """The queue no older than one window: waits for the refresh when it is due."""
        return await self.cache.fresh(scope, lambda: self._list(scope))

    async def jobs(self, scope: Scope) -> list[Job]:
        """The current queue, or the typed error when it cannot be had."""
        return (await self.cache.value(scope, lambda: self._list(scope))).jobs

    async def _list(self, scope: Scope) -> QueueTable:
        last = self.cache.last(scope)
        if self.site is not None:
            table = await self.site.queue_table(scope, last.value if last else None)
            if table is not None:
                return table
        started = time.monotonic()
        table = await self.guard.run(
            lambda: self.scheduler.queue_table(scope, last.value if last else None),
            usual=self._took.get(scope, 0.0),
        )
        self._took[scope] = time.monotonic() - started
        return table

    def invalidate(self) -> None:
        self.cache.invalidate()
        if self.site is not None:
            self.site.changed()

    def known_job(self, job_id: str) -> Job | None:
        """A job from any cached listing (useful once the controller has forgotten it)."""
        for scope in ("mine", "all"):
            snap = self.cache.last(scope)  # type: ignore[arg-type]
            for row in snap.value.rows if snap else ():
                if row[0] == job_id:
                    return Job(*row)  # type: ignore[arg-type]
        return None

    async def render(
        self, scope: Scope, states: Filter, partitions: Filter, fmt: QueueFormat = "objects"
    ) -> RenderedJobs:
        """The encoded listing; when Slurm fails, the last good one marked stale (or the error)."""
        error = None
        try:
            snap = await self.snapshot(scope)
        except FetchFailed as exc:
            if exc.last is None:
                raise exc.error from None
            snap, error = exc.last, exc.error
        encoded = await self.encoded(scope, snap.value, states, partitions, fmt)
        return RenderedJobs(encoded, fmt, iso_time(snap.fetched_at), error is not None, error)

    async def encoded(
        self, scope: Scope, table: QueueTable, states: Filter, partitions: Filter, fmt: QueueFormat
    ) -> Encoded:
        """Encode a listing once per (filter, format), in a worker thread: every other client
        gets the same bytes."""
        encodings = self._encodings.setdefault(scope, Encodings(_PER_LISTING))
        current = self.cache.last(scope)
        return await encodings.get(
            table, current.value if current else None, (states, partitions, fmt),
            lambda: _encode(table, states, partitions, fmt),
        )  # fmt: skip


K = TypeVar("K", bound=Hashable)


class Encodings(Generic[K]):
    """The encodings of one current listing, each made once in a worker thread and shared by
    every request that needs it (failed ones are made again). They go when the listing changes:
    nobody is served them again, and at 100,000 jobs each is tens of megabytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # encodings kept; the oldest goes first
        self._digest = b""
        self._made: dict[K, asyncio.Future[Encoded]] = {}

    def __len__(self) -> int:
        """How many encodings are kept."""
        return len(self._made)

    async def get(
        self, table: QueueTable, current: QueueTable | None, key: K, encode: Callable[[], Encoded]
    ) -> Encoded:
        """``table`` encoded as ``key`` says; ``current`` is the listing now served."""
        if table.digest != self._digest:
            if current is not None and current is not table:
                # An older listing (served stale): encode it without displacing the current one's.
                return await asyncio.to_thread(encode)
            self._digest, self._made = table.digest, {}
        future = self._made.get(key)
        if future is None or (future.done() and not future.cancelled() and future.exception() is not None):
            if len(self._made) >= self.limit:
                self._made.pop(next(iter(self._made)))
            future = self._made[key] = asyncio.ensure_future(asyncio.to_thread(encode))
        return await asyncio.shield(future)


def iso_time(seconds: float) -> str:
    """A wall-clock time as ISO 8601 UTC with milliseconds (``2026-11-21T10:00:00.123Z``)."""
    stamp = datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _encode(table: QueueTable, states: Filter, partitions: Filter, fmt: QueueFormat) -> Encoded:
    rows = _filtered(table.rows, states, partitions)
    # The object form's records are made for this body only: the cached listing stays rows.
    jobs_json = orjson.dumps(rows if fmt == "table" else [Job(*row) for row in rows])  # type: ignore[arg-type]
    # The ETag names the listing, its filter and format, so an unchanged queue revalidates (304)
    # across refreshes, and no body is hashed.
    named = (table.digest, states and sorted(states), partitions and sorted(partitions), fmt)
    tag = hashlib.blake2b(repr(named).encode(), digest_size=12)
    return Encoded(jobs_json, orjson.dumps(explanations(rows)), '"' + tag.hexdigest() + '"')


def explanations(rows: list[JobRow]) -> dict[str, dict[str, str]]:
    """What the pending reasons among ``rows`` mean, once per reason."""
    reasons = {
        str(row[_REASON])
        for row in rows
        if row[_REASON] and base_state(row[_STATE]) == "PENDING"  # type: ignore[arg-type]
    }
    return {r: {"text": e.text, "action": e.action} for r in sorted(reasons) if (e := explain(r))}


def _filtered(rows: list[JobRow], states: Filter, partitions: Filter) -> list[JobRow]:
    if states is None and partitions is None:
        return rows
    return [
        row
        for row in rows
        if (states is None or base_state(row[_STATE]) in states)  # type: ignore[arg-type]
        and (partitions is None or row[_PARTITION] in partitions)
    ]
