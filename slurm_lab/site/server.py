"""The site cache's server: one ``squeue --all`` listing for every user, served over a Unix socket.

``GET /jobs?scope=mine|all`` answers exactly the ``format=table`` body of slurm-lab's own
``GET jobs`` (same fields, rows, explanations, ``fetched_at``, ``stale``) with an ETag naming what
that user sees (``If-None-Match`` -> 304). Who asks is the kernel's word (SO_PEERCRED on the
accepted socket), never the client's: no parameter or header names a user. ``since=T`` (wall-clock
seconds; sent by a server after its user's submit or cancel) asks for a listing begun after T:
such refreshes are shared by every request waiting for one and start at most once per
``min_gap`` seconds, whoever asks.

A listing serves for ``ttl`` seconds (queue.py's QueueView on a CliScheduler that lists with
``--all``); a request that finds it older waits for the one new listing every request then
shares, so servers that ask once per push window get that window's queue, not the one before.
Partitions' visibility and PrivateData are read once per ``slow_ttl``, in the background. Each
body is encoded once per listing and view (policy.py) and shared by every user with that view;
bodies of older listings are dropped.
"""

from __future__ import annotations

import asyncio
import grp
import hashlib
import logging
import os
import pwd
import re
import socket
import stat
import struct
import time
from collections.abc import Callable
from typing import Any

import orjson
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_unix_socket

from .. import errors, validation
from ..cache import CoalescingCache, FetchFailed, Snapshot
from ..guard import ControllerGuard
from ..handlers import JsonErrors
from ..models import QueueTable, Scope
from ..queue import Encoded, Encodings, QueueView, RenderedJobs, explanations, iso_time
from ..schedulers.cli import CliScheduler
from ..slurm import argv as build
from ..slurm import parsers
from .policy import SiteAccess, View, Viewer, site_access, view_of, visible_rows

log = logging.getLogger("slurm_lab.site")

#: Views whose bodies are kept for the current listing (one per distinct view; "mine" is per user).
MAX_VIEWS = 1024
_SINCE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_QUERY = frozenset({"scope", "since"})
_KEY: Scope = "all"  # the one listing (squeue --all)


def viewer_of(uid: int) -> Viewer:
    """Who ``uid`` is to Slurm: the names of all their groups (from the system's user database,
    as slurmctld reads it). A uid without an account is in no group."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return Viewer(uid, frozenset())
    names = set()
    for gid in os.getgrouplist(entry.pw_name, entry.pw_gid):
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return Viewer(uid, frozenset(names))


class SiteQueue:
    """The one listing and what each user sees of it."""

    def __init__(
        self,
        scheduler: CliScheduler,
        ttl: float,
        slow_ttl: float = 60.0,
        min_gap: float = 1.0,
        viewer: Callable[[int], Viewer] = viewer_of,
    ) -> None:
        scheduler.every_partition = True
        self.scheduler = scheduler
        self.guard = ControllerGuard(scheduler)
        self.queue = QueueView(scheduler, self.guard, ttl)
        self.min_gap = min_gap
        self._viewer = viewer
        self._access: CoalescingCache[str, SiteAccess] = CoalescingCache(max(ttl, slow_ttl), background=True)
        self._viewers: CoalescingCache[int, Viewer] = CoalescingCache(
            max(ttl, slow_ttl), max_entries=4096, background=True
        )
        self._bodies: Encodings[View] = Encodings(MAX_VIEWS)
        self._forcing = asyncio.Lock()
        self._forced: tuple[Snapshot[QueueTable], float] | None = None  # and the time it began
        self._forced_at = float("-inf")

    async def access(self) -> SiteAccess:
        """Partitions' visibility and PrivateData, read once per slow window; the last good ones
        while Slurm cannot answer. Raises the typed error when there never were any."""
        try:
            return (await self._access.get("access", self._load_access)).value
        except FetchFailed as exc:
            if exc.last is None:
                raise exc.error from None
            return exc.last.value  # type: ignore[no-any-return]

    async def _load_access(self) -> SiteAccess:
        partitions, config = await asyncio.gather(
            self.guard.run(lambda: self.scheduler.check(build.scontrol_show_partitions())),
            self.guard.run(lambda: self.scheduler.check(build.scontrol_show_config())),
        )
        try:
            access = site_access(
                parsers.parse_config(config.stdout), parsers.parse_partition_access(partitions.stdout)
            )
        except ValueError as exc:
            raise errors.UnexpectedOutput(f"scontrol printed output slurm-lab cannot read: {exc}") from None
        if os.geteuid() not in access.privileged:
            raise errors.PermissionDenied(
                f"the site cache runs as uid {os.geteuid()}, which is neither root nor SlurmUser: "
                "it would not see every job"
            )
        return access

    async def viewer(self, uid: int) -> Viewer:
        return await self._viewers.value(uid, lambda: asyncio.to_thread(self._viewer, uid))

    async def render(self, uid: int, scope: Scope, since: float | None) -> RenderedJobs:
        """What ``uid`` sees of ``scope``, encoded; the last good listing marked stale when
        Slurm fails (or the typed error when there is none)."""
        view = view_of(await self.viewer(uid), await self.access(), scope)
        error = None
        try:
            snap = await (self.queue.fresh(_KEY) if since is None else self._begun_after(since))
        except FetchFailed as exc:
            if exc.last is None:
                raise exc.error from None
            snap, error = exc.last, exc.error
        encoded = await self.encoded(snap.value, view)
        return RenderedJobs(encoded, "table", iso_time(snap.fetched_at), error is not None, error)

    async def _begun_after(self, since: float) -> Snapshot[QueueTable]:
        """A listing squeue began after ``since``: the last such refresh when it is still the
        current listing, else a new one (at most one per ``min_gap``, shared by every waiter)."""
        since = min(since, time.time())
        async with self._forcing:
            current = self.queue.cache.last(_KEY)
            if self._forced is not None and self._forced[0] is current and self._forced[1] >= since:
                return current
            wait = self._forced_at + self.min_gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._forced_at = time.monotonic()
            began = time.time()
            self.queue.invalidate()
            snap = await self.queue.fresh(_KEY)
            self._forced = (snap, began)
            return snap

    async def encoded(self, table: QueueTable, view: View) -> Encoded:
        """``view``'s rows of ``table``, encoded once (in a worker thread) for every user with
        that view; the bodies of older listings go when a new one is served."""
        current = self.queue.cache.last(_KEY)
        return await self._bodies.get(
            table, current.value if current else None, view, lambda: encode(table, view)
        )

    async def settled(self) -> None:
        await self.queue.cache.settled()

    async def close(self) -> None:
        await self.scheduler.close()


def encode(table: QueueTable, view: View) -> Encoded:
    """The rows ``view`` sees, their reasons' explanations, and an ETag naming exactly those:
    a change to jobs a user does not see is no change to them (304)."""
    rows = visible_rows(table.rows, view)
    jobs_json = orjson.dumps(rows)
    explained = orjson.dumps(explanations(rows))
    tag = hashlib.blake2b(jobs_json, digest_size=16)
    tag.update(explained)
    return Encoded(jobs_json, explained, '"' + tag.hexdigest() + '"')


def peer_uid(request: Any) -> int:
    """The uid of the process at the other end of the request's Unix socket, from the kernel."""
    stream = getattr(request.connection, "stream", None)
    sock = getattr(stream, "socket", None)
    if sock is None or sock.family != socket.AF_UNIX:
        raise errors.PermissionDenied("the site cache answers on its Unix socket only")
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return int(uid)


class SiteHandler(JsonErrors):
    """Errors are JSON ``{"message", "reason"}`` as slurm-lab's API's; never a traceback."""

    details_in = "the site cache's log"
    uid: int | None = None


class JobsHandler(SiteHandler):
    def initialize(self, site: SiteQueue) -> None:
        self.site = site

    async def get(self) -> None:
        self.uid = peer_uid(self.request)  # before anything else: every answer is for someone
        query = self.request.query_arguments
        for name, values in query.items():
            if name not in _QUERY:
                raise errors.InvalidInput(name[:40], "is not a parameter of the site cache")
            if len(values) != 1:
                raise errors.InvalidInput(name, "must be given once")
        scope = validation.scope(self.get_query_argument("scope", None))
        since = self.get_query_argument("since", None)
        if since is not None and not _SINCE.fullmatch(since):
            raise errors.InvalidInput("since", "must be seconds since the epoch")
        self.send_listing(await self.site.render(self.uid, scope, None if since is None else float(since)))


class NotFound(SiteHandler):
    def prepare(self) -> None:
        raise web.HTTPError(404, "the site cache serves GET /jobs only", reason="not_found")


def _log_request(handler: web.RequestHandler) -> None:
    status = handler.get_status()
    uid = getattr(handler, "uid", None)
    level = logging.WARNING if status >= 500 else logging.DEBUG
    log.log(level, "%d %s %s uid=%s %.1f ms", status, handler.request.method, handler.request.uri,
            uid, 1000 * handler.request.request_time())  # fmt: skip


def make_app(site: SiteQueue) -> web.Application:
    return web.Application(
        [(r"/jobs", JobsHandler, {"site": site})],
        default_handler_class=NotFound,
        log_function=_log_request,
        compress_response=False,
    )


def check_folder(path: str) -> None:
    """The socket's folder: made (0755) when absent; refused when others may write in it, for
    anyone could then put a socket of theirs where servers look for this one."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o755)
        os.chmod(folder, 0o755)  # noqa: S103  (every user must reach the socket; only we write)
    info = os.stat(folder)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise errors.PermissionDenied(f"{folder} is writable by others: use one only its owner may write")
    if info.st_uid not in (0, os.geteuid()):
        raise errors.PermissionDenied(f"{folder} belongs to uid {info.st_uid}, neither root nor this process")


def listen(site: SiteQueue, path: str) -> HTTPServer:
    """Serve ``site`` on a Unix socket at ``path`` (mode 0666: every local user may ask; each is
    answered as the kernel says they are)."""
    check_folder(path)
    sock = bind_unix_socket(path, mode=0o666)
    server = HTTPServer(
        make_app(site),
        max_header_size=16 << 10,
        max_body_size=4 << 10,
        idle_connection_timeout=60,
        body_timeout=10,
    )
    server.add_socket(sock)
    return server
