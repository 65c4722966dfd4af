"""A coalescing TTL cache: concurrent and repeated reads within ``ttl`` share one fetch.

Failures are remembered for ``ttl`` too, so a down controller is not hammered by every client,
and the last good value stays available to be served as stale.

With ``background=True`` (stale-while-revalidate) only the first read of a key waits: later
reads get the last value at once, and one that finds it older than ``ttl`` starts the one
refresh everyone then shares. A read after :meth:`invalidate` (a change this process made) still
waits, so it shows that change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import SlurmLabError

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[T]):
    value: T
    fetched_at: float  # wall-clock seconds (time.time())
    serial: int  # increases with every successful fetch of any key


class FetchFailed(Exception):
    """The fetch failed with ``error``; ``last`` is the last good snapshot, if any."""

    def __init__(self, error: SlurmLabError, last: Snapshot[Any] | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.last = last


@dataclass
class _Entry(Generic[T]):
    good: Snapshot[T] | None = None
    good_at: float = float("-inf")  # monotonic time of the last success
    error: SlurmLabError | None = None
    error_at: float = float("-inf")
    epoch: int = 0  # bumped by invalidate(); results of older fetches are not fresh
    good_epoch: int = -1
    inflight: asyncio.Task[Snapshot[T]] | None = field(default=None, repr=False)
    inflight_epoch: int = -1


class CoalescingCache(Generic[K, T]):
    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int | None = None,
        background: bool = False,
    ) -> None:
        self.ttl = ttl
        self.background = background
        self.max_entries = max_entries  # least recently used keys beyond this are forgotten
        self._clock = clock
        self._entries: dict[K, _Entry[T]] = {}
        self._serial = 0
        self.fetches = 0  # how many times the source was asked (for tests and benchmarks)

    def last(self, key: K) -> Snapshot[T] | None:
        entry = self._entries.get(key)
        return entry.good if entry else None

    def invalidate(self) -> None:
        """Forget freshness (after a change we made): the next read asks the source again."""
        for entry in self._entries.values():
            entry.epoch += 1
            entry.error = None

    async def get(self, key: K, fetch: Callable[[], Awaitable[T]]) -> Snapshot[T]:
        """The cached value when fresh; else join the running fetch, or start one.

        Raises FetchFailed when the fetch (or a failure remembered within ``ttl``) failed.
        """
        entry = self._entry(key)
        now = self._clock()
        current = entry.good is not None and entry.good_epoch == entry.epoch
        if current and now - entry.good_at < self.ttl:
            return entry.good  # type: ignore[return-value]
        failed_lately = entry.error is not None and now - entry.error_at < self.ttl
        if self.background and current:
            if not failed_lately:
                self._start(entry, fetch).add_done_callback(_retrieved)
            if entry.error is not None:  # the last refresh failed: the value is stale
                raise FetchFailed(entry.error, entry.good)
            return entry.good  # type: ignore[return-value]
        if failed_lately:
            raise FetchFailed(entry.error, entry.good)  # type: ignore[arg-type]
        # shield: a client that goes away must not cancel the fetch others are waiting for.
        return await asyncio.shield(self._start(entry, fetch))

    async def fresh(self, key: K, fetch: Callable[[], Awaitable[T]]) -> Snapshot[T]:
        """Like :meth:`get`, but waits for the refresh of a value older than ``ttl`` (for a
        publisher that must see each window's data, whoever reads)."""
        entry = self._entry(key)
        now = self._clock()
        if entry.good and entry.good_epoch == entry.epoch and now - entry.good_at < self.ttl:
            return entry.good
        if entry.error is not None and now - entry.error_at < self.ttl:
            raise FetchFailed(entry.error, entry.good)
        return await asyncio.shield(self._start(entry, fetch))

    async def settled(self) -> None:
        """Wait for the refreshes under way (whatever their outcome): for shutdown and tests."""
        running = [e.inflight for e in self._entries.values() if e.inflight is not None]
        await asyncio.gather(*running, return_exceptions=True)

    def _start(self, entry: _Entry[T], fetch: Callable[[], Awaitable[T]]) -> asyncio.Task[Snapshot[T]]:
        """The running fetch of this entry's current epoch, started if there is none."""
        if entry.inflight is None or entry.inflight_epoch != entry.epoch:
            entry.inflight = asyncio.ensure_future(self._refresh(entry, fetch))
            entry.inflight_epoch = entry.epoch
        return entry.inflight

    def _entry(self, key: K) -> _Entry[T]:
        entry = self._entries.pop(key, None) or _Entry()
        self._entries[key] = entry  # most recently used last
        excess = len(self._entries) - (self.max_entries or len(self._entries))
        if excess > 0:
            idle = []
            for k, e in self._entries.items():  # oldest first
                if e.inflight is None and k != key:
                    idle.append(k)
                    if len(idle) == excess:
                        break
            for old in idle:
                del self._entries[old]
        return entry

    async def value(self, key: K, fetch: Callable[[], Awaitable[T]]) -> T:
        """Like :meth:`get`, for callers that want the value or the typed error, not stale data."""
        try:
            return (await self.get(key, fetch)).value
        except FetchFailed as exc:
            raise exc.error from None

    async def _refresh(self, entry: _Entry[T], fetch: Callable[[], Awaitable[T]]) -> Snapshot[T]:
        epoch = entry.epoch
        self.fetches += 1
        try:
            value = await fetch()
        except SlurmLabError as exc:
            # Remembered for a window: without its traceback, which would keep every frame of
            # the failed fetch (and their locals, e.g. a command's whole output) alive meanwhile.
            exc.__traceback__ = None
            entry.error, entry.error_at = exc, self._clock()
            raise FetchFailed(exc, entry.good) from None
        finally:
            if entry.inflight_epoch == epoch:
                entry.inflight = None
        self._serial += 1
        snap = Snapshot(value, time.time(), self._serial)
        entry.good, entry.good_at, entry.good_epoch, entry.error = snap, self._clock(), epoch, None
        return snap


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A background refresh's failure is kept in its entry; mark it seen for asyncio."""
    if not task.cancelled():
        task.exception()
