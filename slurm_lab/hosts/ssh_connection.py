"""ONE persistent asyncssh connection to a login node: connecting with verified host keys,
backing off after failures, a bounded number of channels, and one SFTP session."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncssh

from ..errors import BackendUnavailable

log = logging.getLogger("slurm_lab.ssh")
#: Failures that mean "the connection is gone": reconnect on the next request.
CONNECTION_LOST = (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError, BrokenPipeError)


@dataclass(frozen=True)
class SSHTarget:
    """Where and how to log in (from SSHHost's settings)."""

    host: str
    port: int
    username: str
    client_keys: list[str]
    known_hosts: str
    jump_host: str
    ssh_configs: list[str]
    keepalive_interval: float
    connect_timeout: float
    max_reconnect_delay: float
    max_channels: int

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class SSHConnection:
    """Owns the connection's lifecycle; every command and file operation borrows it."""

    def __init__(self, target: SSHTarget, default_user: str) -> None:
        self.target = target
        self.user = target.username or default_user
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._connecting = asyncio.Lock()
        self._sftp_starting = asyncio.Lock()
        # One channel stays reserved for the SFTP session.
        self._channels = asyncio.Semaphore(max(1, target.max_channels - 1))
        self._failures = 0
        self._next_attempt = 0.0
        self._last_error: str | None = None
        self.connects = 0  # how many connections were made (for tests and benchmarks)

    @asynccontextmanager
    async def channel(self) -> AsyncIterator[None]:
        """Hold one of the command channels while a command runs."""
        async with self._channels:
            yield

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The open connection, connecting (or saying why not, while backing off) if needed."""
        if self._conn is not None:
            return self._conn
        async with self._connecting:
            if self._conn is not None:
                return self._conn
            wait = self._next_attempt - time.monotonic()
            if wait > 0 and self._last_error is not None:
                # Backing off: repeat why, without touching the login node.
                raise BackendUnavailable(
                    f"{self._last_error} (next attempt in {wait:.0f} s)", retry_after=max(1, round(wait))
                )
            try:
                self._conn = await asyncio.wait_for(self._connect(), self.target.connect_timeout)
            except Exception as exc:
                self._failures += 1
                delay = min(self.target.max_reconnect_delay, 2.0 ** (self._failures - 1))
                self._next_attempt = time.monotonic() + delay
                self._last_error = self._connect_error(exc)
                raise BackendUnavailable(self._last_error, retry_after=max(1, round(delay))) from None
            self._failures, self._next_attempt = 0, 0.0
            self.connects += 1
            self.user = self._conn.get_extra_info("username") or self.user
            log.info("SSH connected to %s as %s", self.target.where, self.user)
            return self._conn

    async def sftp(self) -> asyncssh.SFTPClient:
        """The connection's one SFTP session, however many readers."""
        conn = await self.connection()
        async with self._sftp_starting:
            if self._sftp is None:
                self._sftp = await conn.start_sftp_client()
            return self._sftp

    def forget_sftp(self) -> None:
        """After an SFTP operation timed out: the next one starts a fresh session."""
        self._sftp = None

    def drop(self, conn: asyncssh.SSHClientConnection | None = None) -> None:
        """Abort ``conn`` (default: the current connection) if it is still the current one."""
        if self._conn is not None and (conn is None or self._conn is conn):
            conn, self._conn, self._sftp = self._conn, None, None
            conn.abort()

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn, self._sftp = self._conn, None, None
            conn.close()
            await conn.wait_closed()

    async def _connect(self) -> asyncssh.SSHClientConnection:
        t = self.target
        if not await asyncio.to_thread(os.path.isfile, t.known_hosts):
            raise FileNotFoundError(t.known_hosts)
        options: dict[str, Any] = dict(
            port=t.port,
            known_hosts=t.known_hosts,
            agent_forwarding=False,
            config=t.ssh_configs,
            keepalive_interval=t.keepalive_interval or None,
            keepalive_count_max=3,
        )
        if t.username:
            options["username"] = t.username
        if t.client_keys:
            options["client_keys"] = t.client_keys
        if t.jump_host:
            options["tunnel"] = await self._connect_jump()
        return await asyncssh.connect(t.host, **options)

    async def _connect_jump(self) -> asyncssh.SSHClientConnection:
        t = self.target
        user, _, hostport = t.jump_host.rpartition("@")
        host, _, port = hostport.partition(":")
        options: dict[str, Any] = dict(
            port=int(port or 22), known_hosts=t.known_hosts, agent_forwarding=False
        )
        if user:
            options["username"] = user
        if t.client_keys:
            options["client_keys"] = t.client_keys
        return await asyncssh.connect(host, **options)

    def _connect_error(self, exc: Exception) -> str:
        """A message that says what failed and which setting or file to fix."""
        t = self.target
        if isinstance(exc, FileNotFoundError) and exc.args and exc.args[0] == t.known_hosts:
            return (
                f"known_hosts file {t.known_hosts} does not exist; add {t.where}'s host key to it "
                "(or point c.SSHHost.known_hosts at the right file)"
            )
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            return (
                f"host key of {t.where} is unknown or does not match {t.known_hosts}; check the key "
                "with the cluster's admins and fix that file (never auto-accepted)"
            )
        if isinstance(exc, asyncssh.PermissionDenied):
            return (
                f"SSH authentication as {t.username or 'the default user'} to {t.where} failed; "
                "check c.SSHHost.client_keys or the ssh-agent"
            )
        if isinstance(exc, asyncio.TimeoutError):
            return f"SSH to {t.where} timed out after {t.connect_timeout:g} s"
        if isinstance(exc, OSError):
            return f"cannot reach {t.where}: {exc.strerror or exc}"
        return f"SSH to {t.where} failed: {exc}"
