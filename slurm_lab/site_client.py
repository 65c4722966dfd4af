"""Listings from the site's shared queue cache (``python -m slurm_lab.site``), when the host has one.

One process lists the whole queue for every user of a login node and answers each, over a Unix
socket, with what their own squeue would show (the kernel tells it who asks). :class:`SiteCache`
asks it for a scope's listing as a :class:`QueueTable`; an unchanged one costs a 304 and nothing
is parsed. When it cannot (no socket, refused, too slow, an answer it cannot read, or a process
answering that is neither root nor SlurmUser) it says so once in the log and returns None: the
caller lists with its own squeue, and the site is asked again after :data:`BACKOFF` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection

import orjson

from .errors import CommandTimeout, ControllerUnavailable, SlurmLabError
from .models import JOB_FIELDS, JobRow, QueueTable, Scope

log = logging.getLogger("slurm_lab.site_client")

#: Seconds to connect and have the answer, beyond twice the site's slowest recent answer (it
#: lists first when its listing is older than its window).
TIMEOUT = 2.0
#: Recent answers whose time sets the next one's limit.
_TIMED = 8
#: Seconds before a site that failed is asked again (meanwhile: our own squeue).
BACKOFF = 30.0
#: Longest status or header line read from the site.
_LINE_LIMIT = 16 << 10
_MAX_HEADERS = 64
_STATUS = re.compile(rb"HTTP/1\.[01] ([1-5][0-9]{2})(?: [^\r\n]*)?\r?\n")
_ETAG = re.compile(r'"((?:[0-9a-f]{2}){8,32})"')
_FIELDS = list(JOB_FIELDS)
_VALUE_TYPES = (str, int, type(None))
#: Slurm's own conditions, which the site relays: listing with our own squeue would not help.
_RELAYED: dict[str, type[SlurmLabError]] = {
    ControllerUnavailable.reason: ControllerUnavailable,
    CommandTimeout.reason: CommandTimeout,
}


class SiteUnavailable(Exception):
    """The site cache cannot serve this listing; the message says why (for the log)."""


class SiteCache:
    """The client of one site cache socket, shared by every listing of this process."""

    def __init__(
        self,
        path: str,
        *,
        trusted: Callable[[], Awaitable[Collection[int]]],
        max_bytes: int,
        wait_timeout: float,
        timeout: float = TIMEOUT,
        backoff: float = BACKOFF,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        #: The uids a site cache may run as (root and SlurmUser): anyone else is not believed.
        self._trusted = trusted
        self.max_bytes = max_bytes
        self.timeout = timeout
        #: Seconds for an answer the site must list first (after a change of ours): a Slurm call's.
        self.wait_timeout = max(timeout, wait_timeout)
        self.backoff = backoff
        self._clock = clock
        self._tables: dict[Scope, tuple[str, QueueTable]] = {}  # ETag and table of the last answer
        self._changed: dict[Scope, float] = {}  # wall-clock time of our last change, until listed
        self._took: deque[float] = deque(maxlen=_TIMED)  # seconds of recent answers
        self._retry_at = float("-inf")
        self._failing = False
        self.answers = 0  # listings the site served (200 or 304), for tests and benchmarks

    def changed(self) -> None:
        """This process changed the queue (a submit, a cancel): each scope's next listing must
        be one the site began after now, so it shows the change."""
        now = time.time()
        self._changed = {"mine": now, "all": now}

    async def queue_table(self, scope: Scope, previous: QueueTable | None) -> QueueTable | None:
        """The site's listing of ``scope``; ``previous`` itself when it has not changed. None when
        the site cannot serve it (said once in the log); Slurm's own failure, which the site
        relays, raises its typed error."""
        if self._clock() < self._retry_at:
            return None
        since = self._changed.get(scope)
        kept = self._tables.get(scope)
        etag = kept[0] if kept is not None and previous is kept[1] else None
        limit = self._limit(since)
        started = self._clock()
        try:
            table = await asyncio.wait_for(self._listing(scope, etag, since, kept), limit)
        except (SiteUnavailable, OSError, ValueError, EOFError, asyncio.TimeoutError) as exc:
            self._fail(exc, limit)
            return None
        if self._failing:
            self._failing = False
            log.info("slurm-lab: the site cache at %s answers again", self.path)
        self._took.append(self._clock() - started)
        if since is not None and self._changed.get(scope) == since:
            del self._changed[scope]
        self.answers += 1
        return table

    def _limit(self, since: float | None) -> float:
        """Seconds to wait for an answer: a Slurm call's after our change (the site must list
        first); otherwise enough for the site to list, judged by its recent answers, so a hung
        site is left in seconds, not a Slurm call's timeout."""
        if since is not None:
            return self.wait_timeout
        return min(self.wait_timeout, self.timeout + 2 * max(self._took, default=0.0))

    def _fail(self, exc: BaseException, limit: float) -> None:
        self._retry_at = self._clock() + self.backoff
        self._tables.clear()  # our own squeue serves meanwhile: do not hold the site's old listings
        if isinstance(exc, asyncio.TimeoutError):
            why = f"did not answer within {limit:g} s"
        elif isinstance(exc, SiteUnavailable):
            why = str(exc)
        elif isinstance(exc, OSError):
            why = f"cannot be reached ({exc.strerror or type(exc).__name__})"
        else:
            why = "answered something slurm-lab cannot read"
        if self._failing:
            log.debug("slurm-lab: the site cache at %s still %s", self.path, why)
            return
        self._failing = True
        log.warning(
            "slurm-lab: the site cache at %s %s; listing the queue with squeue meanwhile (next try in %g s)",
            self.path,
            why,
            self.backoff,
        )

    async def _listing(
        self, scope: Scope, etag: str | None, since: float | None, kept: tuple[str, QueueTable] | None
    ) -> QueueTable:
        target = f"/jobs?scope={scope}" + (f"&since={since:.6f}" if since is not None else "")
        status, headers, body = await self._get(target, {"If-None-Match": etag} if etag else {})
        if status == 304 and etag is not None and kept is not None:
            return kept[1]
        if status == 200:
            new_etag = headers.get("etag", "")
            if not _ETAG.fullmatch(new_etag):
                raise SiteUnavailable("answered without an ETag slurm-lab can use")
            table = await asyncio.to_thread(table_of, body, new_etag)
            self._tables[scope] = (new_etag, table)
            return table
        relayed = _relayed(body) if status in (503, 504) else None
        if relayed is not None:
            raise relayed
        raise SiteUnavailable(f"answered HTTP {status}")

    async def _get(self, target: str, extra: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """One HTTP/1.1 GET over the socket: status, headers (lower-case names), body."""
        reader, writer = await asyncio.open_unix_connection(self.path, limit=_LINE_LIMIT)
        try:
            await self._check_peer(writer)
            lines = [f"GET {target} HTTP/1.1", "Host: localhost", "Connection: close"]
            lines += [f"{name}: {value}" for name, value in extra.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
            await writer.drain()
            match = _STATUS.fullmatch(await reader.readline())
            if match is None:
                raise SiteUnavailable("answered something that is not HTTP")
            status = int(match.group(1))
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n"):
                name, sep, value = line.decode("latin-1").partition(":")
                if not sep or not line.endswith(b"\n") or len(headers) >= _MAX_HEADERS:
                    raise SiteUnavailable("answered headers slurm-lab cannot read")
                headers[name.strip().lower()] = value.strip()
            if "transfer-encoding" in headers:
                raise SiteUnavailable("answered in chunks, which slurm-lab does not read")
            length = headers.get("content-length", "0")
            if not length.isdigit():
                raise SiteUnavailable("answered a body of no stated length")
            if int(length) > self.max_bytes:
                raise SiteUnavailable(f"answered {int(length)} bytes, more than {self.max_bytes}")
            body = await reader.readexactly(int(length)) if status != 304 else b""
            return status, headers, body
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _check_peer(self, writer: asyncio.StreamWriter) -> None:
        """Believe only a site cache run by root or SlurmUser: anyone could make a socket where
        the configured one should be, and serve made-up listings from it."""
        sock = writer.get_extra_info("socket")
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        try:
            trusted = await self._trusted()
        except SlurmLabError as exc:
            raise SiteUnavailable(f"cannot be checked ({exc.message})") from None
        if uid not in trusted:
            raise SiteUnavailable(f"is served by uid {uid}, which is neither root nor SlurmUser")


def table_of(body: bytes, etag: str) -> QueueTable:
    """The site's ``format=table`` body as a QueueTable named by its ETag (the digest is the
    ETag's hex, so feed versions are its first 8 bytes); ValueError for
    anything else (a value that is not a string, integer or null, a row of another width)."""
    data = orjson.loads(body)
    if not isinstance(data, dict) or data.get("format") != "table" or data.get("fields") != _FIELDS:
        raise ValueError("not a table of slurm-lab's job fields")
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise ValueError("no rows")
    width, value_types = len(_FIELDS), _VALUE_TYPES
    out: list[JobRow] = []
    for row in rows:
        if (
            type(row) is not list
            or len(row) != width
            or type(row[0]) is not str
            or not all(type(v) in value_types for v in row)
        ):
            raise ValueError("a row slurm-lab cannot read")
        out.append(tuple(row))
    return QueueTable(out, bytes.fromhex(etag.strip('"')))


def _relayed(body: bytes) -> SlurmLabError | None:
    """Slurm's own failure as the site relays it (``{"message", "reason", ...}``), or None."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    cls = _RELAYED.get(data.get("reason"))  # type: ignore[arg-type]
    return cls(data["message"][:500]) if cls is not None else None
