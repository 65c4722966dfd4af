"""Push: the queue's changes sent to every subscribed browser tab, one refresh per interval.

While anyone listens to a scope, one task refreshes it each ``interval`` (aligned to the wall
clock, as polling tabs are, so both share one squeue) and sends what changed since the last
message: the rows that are new or differ and the ids that left. Nothing is sent when nothing
changed. A running job's ``time_used`` alone is no change: clients advance it themselves.

Messages (JSON text): ``snapshot`` (everything, on subscribe), ``delta`` (``base`` -> ``version``),
``error`` (the refresh failed; the data are stale until the next snapshot or delta).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .cache import FetchFailed, Snapshot
from .errors import ControllerUnavailable, SlurmLabError
from .models import JOB_FIELDS, JobRow, QueueTable, Scope
from .queue import QueueView, explanations, iso_time

#: Called with each message for one subscriber; returns False once that subscriber is gone.
Send = Callable[[bytes], bool]

log = logging.getLogger("slurm_lab.feed")

_ID = JOB_FIELDS.index("job_id")
_STATE = JOB_FIELDS.index("state")
_USED = JOB_FIELDS.index("time_used")
#: A delta bigger than this share of the listing goes as a snapshot (cheaper for clients).
_SNAPSHOT_SHARE = 0.5


@dataclass(eq=False)
class _Channel:
    scope: Scope
    subscribers: dict[Send, bool] = field(default_factory=dict)  # send -> has its snapshot
    published: QueueTable | None = None  # what every welcomed subscriber holds
    fetched_at: float = 0.0
    failed: bool = False
    task: asyncio.Task[None] | None = None


class QueueFeed:
    """One publisher per scope, shared by every subscriber of this server."""

    def __init__(self, queue: QueueView, retry_after: int, interval: float) -> None:
        self.queue = queue
        self.retry_after = retry_after
        self.interval = interval
        self._channels: dict[Scope, _Channel] = {}
        self._welcomes: set[asyncio.Task[None]] = set()
        self.messages = 0  # sent, for tests and benchmarks

    def subscribe(self, scope: Scope, send: Send) -> Callable[[], None]:
        """Start sending ``scope`` to ``send`` (a snapshot first); returns the unsubscribe."""
        channel = self._channels.setdefault(scope, _Channel(scope))
        channel.subscribers[send] = False
        if channel.published is not None:
            welcome = asyncio.ensure_future(self._welcome(channel))
            self._welcomes.add(welcome)  # held until done: asyncio keeps only weak references
            welcome.add_done_callback(self._welcomes.discard)
        if channel.task is None or channel.task.done():
            channel.task = asyncio.ensure_future(self._run(channel))
        return lambda: self._leave(channel, send)

    @staticmethod
    def _leave(channel: _Channel, send: Send) -> None:
        channel.subscribers.pop(send, None)

    async def _run(self, channel: _Channel) -> None:
        """Refresh each window while anyone listens; publish what changed."""
        while channel.subscribers:
            try:
                snap = await self.queue.fresh(channel.scope)
            except FetchFailed as exc:
                if channel.published is None and exc.last is not None:
                    await self._publish(channel, exc.last)  # the last good data, then the error
                self._failed(channel, exc.error)
            except Exception:  # a bug must not end pushes for everyone: log it, go on polling
                log.exception("the queue feed failed to refresh %s", channel.scope)
            else:
                await self._publish(channel, snap)
            await asyncio.sleep(self._until_next_window())
        channel.task, channel.published = None, None  # nobody holds it now

    def _until_next_window(self) -> float:
        window = max(self.interval, 0.05)
        return window - time.time() % window + 0.01

    async def _publish(self, channel: _Channel, snap: Snapshot[QueueTable]) -> None:
        before, table = channel.published, snap.value
        recovered, channel.failed = channel.failed, False
        if before is None:
            channel.published, channel.fetched_at = table, snap.fetched_at
        elif before is not table:
            upsert, remove = await asyncio.to_thread(changes, before.rows, table.rows)
            if upsert or remove:
                channel.published, channel.fetched_at = table, snap.fetched_at
                if recovered or len(upsert) + len(remove) > _SNAPSHOT_SHARE * len(table.rows):
                    recovered = True  # everyone gets the whole listing
                else:
                    self._delta(channel, before, upsert, remove)
        if recovered:
            for send in channel.subscribers:
                channel.subscribers[send] = False
        await self._welcome(channel)

    def _delta(self, channel: _Channel, before: QueueTable, upsert: list[JobRow], remove: list[str]) -> None:
        assert channel.published is not None
        message = orjson.dumps(
            {
                "type": "delta",
                "scope": channel.scope,
                "base": version(before),
                "version": version(channel.published),
                "upsert": upsert,
                "remove": remove,
                "explanations": explanations(upsert),
                "fetched_at": iso_time(channel.fetched_at),
                "stale": False,
            }
        )
        for send, welcomed in list(channel.subscribers.items()):
            if welcomed:
                self._send(channel, send, message)

    async def _welcome(self, channel: _Channel) -> None:
        """Send the published listing whole to the subscribers that do not hold it yet: the
        encoding ``GET jobs?format=table`` serves, made once for both."""
        table = channel.published
        if table is None or all(channel.subscribers.values()):
            return
        encoded = await self.queue.encoded(channel.scope, table, None, None, "table")
        message = orjson.dumps(
            {
                "type": "snapshot",
                "scope": channel.scope,
                "version": version(table),
                "fields": JOB_FIELDS,
                "rows": orjson.Fragment(encoded.jobs_json),
                "explanations": orjson.Fragment(encoded.explanations_json),
                "fetched_at": iso_time(channel.fetched_at),
                "stale": False,
            }
        )
        for send, welcomed in list(channel.subscribers.items()):
            if not welcomed and self._send(channel, send, message):
                channel.subscribers[send] = True

    def _failed(self, channel: _Channel, error: SlurmLabError) -> None:
        if channel.failed:
            return  # said once; the next success says it is over
        channel.failed = True
        retry = self.retry_after if isinstance(error, ControllerUnavailable) else None
        body: dict[str, Any] = {
            "type": "error",
            "scope": channel.scope,
            "message": error.message,
            "reason": error.reason,
            "retry_after": retry,
        }
        message = orjson.dumps(body)
        for send in list(channel.subscribers):
            self._send(channel, send, message)

    def _send(self, channel: _Channel, send: Send, message: bytes) -> bool:
        if send(message):
            self.messages += 1
            return True
        channel.subscribers.pop(send, None)
        return False


def version(table: QueueTable) -> str:
    """A listing's name in messages: deltas apply to the version they name as ``base``."""
    return table.digest.hex()[:16]


def changes(before: list[JobRow], after: list[JobRow]) -> tuple[list[JobRow], list[str]]:
    """Rows new or changed in ``after``, and the ids gone from it. A running job whose run time
    alone moved has not changed (clients count it up themselves)."""
    old = {row[_ID]: row for row in before}
    upsert = []
    for row in after:
        was = old.pop(row[_ID], None)
        if was != row and not (was is not None and _only_ran_on(was, row)):
            upsert.append(row)
    return upsert, [str(job_id) for job_id in old]


def _only_ran_on(was: JobRow, row: JobRow) -> bool:
    return row[_STATE] == "RUNNING" and was[:_USED] == row[:_USED] and was[_USED + 1 :] == row[_USED + 1 :]
