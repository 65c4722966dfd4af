"""The SSH backend: the Slurm CLIs on a login node, over ONE persistent asyncssh connection.

Host keys are always verified against ``known_hosts``; commands are argv lists quoted by
:func:`remote_command` (the only place that quotes for a remote shell); scripts go to sbatch on
stdin; job output is read over SFTP on the same connection.
"""

from __future__ import annotations

import abc
import asyncio
import getpass
import logging
import os
import posixpath
import re
import shlex
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import asyncssh
from traitlets import Dict, Float, Int, List, TraitError, Unicode, validate
from traitlets.config import LoggingConfigurable

from ..errors import (
    BackendUnavailable,
    CommandFailed,
    CommandTimeout,
    OutputNotAvailable,
    OutputRefused,
    SlurmLabError,
)
from ..runner import CommandResult
from ..slurm import parsers
from .cli import CliBackend
from .owned_files import refusal

if TYPE_CHECKING:
    from ..config import SlurmLab

log = logging.getLogger("slurm_lab.ssh")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
#: Failures that mean "the connection is gone": reconnect on the next request.
_CONNECTION_LOST = (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError, BrokenPipeError)


def remote_command(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The one quoting function: argv (and environment) as a POSIX shell command line."""
    prefix = ["env", *(f"{k}={v}" for k, v in env.items())] if env else []
    return shlex.join([*prefix, *argv])


class _Meta(type(LoggingConfigurable), abc.ABCMeta):  # type: ignore[misc]
    """Lets a traitlets Configurable also be an abstract-method-checked SlurmBackend."""


class SSHBackend(CliBackend, LoggingConfigurable, metaclass=_Meta):  # type: ignore[metaclass]
    """Reach Slurm on a login node over SSH: ``c.SlurmLab.backend = "ssh"`` plus these settings."""

    name = "ssh"

    host = Unicode(
        "",
        config=True,
        help="""Login node to connect to (a name from ~/.ssh/config works too). Required.
        Default: "". Example: c.SSHBackend.host = "login.cluster.org" """,
    )
    port = Int(
        22,
        config=True,
        help="""SSH port of the login node. Default: 22. Example: c.SSHBackend.port = 2222""",
    )
    username = Unicode(
        "",
        config=True,
        help="""User to log in as; Slurm sees this user. Empty means ~/.ssh/config's User, else
        the local user name. Default: "". Example: c.SSHBackend.username = "alice" """,
    )
    client_keys = List(
        Unicode(),
        config=True,
        help="""Private key files to authenticate with. Empty means the ssh-agent
        (SSH_AUTH_SOCK) and the default keys in ~/.ssh. Default: [].
        Example: c.SSHBackend.client_keys = ["~/.ssh/id_ed25519"]""",
    )
    known_hosts = Unicode(
        "~/.ssh/known_hosts",
        config=True,
        help="""known_hosts file the login node's host key is verified against. Host keys are
        ALWAYS verified: an unknown or changed key is an error naming this file, never accepted.
        Default: "~/.ssh/known_hosts". Example: c.SSHBackend.known_hosts = "/etc/slurm-lab/known_hosts" """,
    )
    jump_host = Unicode(
        "",
        config=True,
        help="""Bastion to tunnel through, as "[user@]host[:port]" (its host key is verified
        with the same known_hosts). Empty means direct. Default: "".
        Example: c.SSHBackend.jump_host = "alice@gateway.cluster.org:22" """,
    )
    ssh_config = List(
        Unicode(),
        default_value=["~/.ssh/config"],
        config=True,
        help="""OpenSSH client config files to honour (Host aliases, User, Port, IdentityFile,
        ProxyJump, ...) where asyncssh supports them; missing files are ignored. Default:
        ["~/.ssh/config"]. Example: c.SSHBackend.ssh_config = []  (ignore ~/.ssh/config)""",
    )
    remote_env = Dict(
        value_trait=Unicode(),
        key_trait=Unicode(),
        config=True,
        help="""Environment for the Slurm CLIs on the login node (set with env(1) before each
        command). Default: {}. Example: c.SSHBackend.remote_env = {"SLURM_CONF": "/etc/slurm/slurm.conf"}""",
    )
    remote_slurm_bin_dir = Unicode(
        "",
        config=True,
        help="""Folder of squeue, sbatch, ... on the login node. Empty means the remote PATH.
        Default: "". Example: c.SSHBackend.remote_slurm_bin_dir = "/opt/slurm/bin" """,
    )
    max_channels = Int(
        8,
        config=True,
        help="""Most channels open at once on the connection: one SFTP session (for job output)
        plus commands. Keep it below the login node's sshd MaxSessions (OpenSSH default 10).
        Default: 8. Example: c.SSHBackend.max_channels = 4""",
    )
    connect_timeout = Float(
        15.0,
        config=True,
        help="""Seconds to connect and authenticate before giving up (503).
        Default: 15. Example: c.SSHBackend.connect_timeout = 30""",
    )
    keepalive_interval = Float(
        30.0,
        config=True,
        help="""Seconds between SSH keepalives, so idle connections through NAT and firewalls
        stay open and dead ones are noticed; 0 turns them off. Default: 30.
        Example: c.SSHBackend.keepalive_interval = 10""",
    )
    max_reconnect_delay = Float(
        30.0,
        config=True,
        help="""Longest wait, in seconds, between reconnect attempts after failures (the wait
        doubles from 1 s); requests in between fail at once with 503 and Retry-After.
        Default: 30. Example: c.SSHBackend.max_reconnect_delay = 60""",
    )

    @validate("remote_env")
    def _valid_env(self, proposal: Any) -> dict[str, str]:
        for key in proposal["value"]:
            if not _ENV_NAME.fullmatch(key):
                raise TraitError(f"SSHBackend.remote_env: {key!r} is not an environment variable name")
        return dict(proposal["value"])

    def __init__(
        self, command_timeout: float = 30.0, max_output_bytes: int = 64 << 20, **kwargs: Any
    ) -> None:
        LoggingConfigurable.__init__(self, **kwargs)
        CliBackend.__init__(self)
        if not self.host:
            raise ValueError("c.SSHBackend.host is required when c.SlurmLab.backend = 'ssh'")
        self.command_timeout = command_timeout
        self.file_timeout = min(command_timeout, 10.0)
        self.max_output_bytes = max_output_bytes
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._connecting = asyncio.Lock()
        self._sftp_starting = asyncio.Lock()
        # One channel stays reserved for the SFTP session.
        self._channels = asyncio.Semaphore(max(1, self.max_channels - 1))
        self._munge_socket: str | None = None
        self._failures = 0
        self._next_attempt = 0.0
        self._last_error: str | None = None
        self._user = self.username or getpass.getuser()
        self._known_hosts = os.path.expanduser(self.known_hosts)
        self._client_keys = [os.path.expanduser(k) for k in self.client_keys]
        self._ssh_configs = [p for p in (os.path.expanduser(c) for c in self.ssh_config) if os.path.isfile(p)]
        self.connects = 0  # how many connections were made (for tests and benchmarks)

    @classmethod
    def from_config(cls, lab: SlurmLab) -> SSHBackend:
        return cls(command_timeout=lab.command_timeout, max_output_bytes=lab.max_output_bytes, parent=lab)

    @property
    def user(self) -> str:
        return self._user

    # ------------------------------------------------------------- connection
    async def _connection(self) -> asyncssh.SSHClientConnection:
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
                self._conn = await asyncio.wait_for(self._connect(), self.connect_timeout)
            except Exception as exc:
                self._failures += 1
                delay = min(self.max_reconnect_delay, 2.0 ** (self._failures - 1))
                self._next_attempt = time.monotonic() + delay
                self._last_error = self._connect_error(exc).message
                raise BackendUnavailable(self._last_error, retry_after=max(1, round(delay))) from None
            self._failures, self._next_attempt = 0, 0.0
            self.connects += 1
            self._user = self._conn.get_extra_info("username") or self._user
            log.info("SSH connected to %s:%s as %s", self.host, self.port, self._user)
            return self._conn

    async def _connect(self) -> asyncssh.SSHClientConnection:
        if not await asyncio.to_thread(os.path.isfile, self._known_hosts):
            raise FileNotFoundError(self._known_hosts)
        options: dict[str, Any] = dict(
            port=self.port,
            known_hosts=self._known_hosts,
            agent_forwarding=False,
            config=self._ssh_configs,
            keepalive_interval=self.keepalive_interval or None,
            keepalive_count_max=3,
        )
        if self.username:
            options["username"] = self.username
        if self._client_keys:
            options["client_keys"] = self._client_keys
        if self.jump_host:
            options["tunnel"] = await self._connect_jump()
        return await asyncssh.connect(self.host, **options)

    async def _connect_jump(self) -> asyncssh.SSHClientConnection:
        user, _, hostport = self.jump_host.rpartition("@")
        host, _, port = hostport.partition(":")
        options: dict[str, Any] = dict(
            port=int(port or 22), known_hosts=self._known_hosts, agent_forwarding=False
        )
        if user:
            options["username"] = user
        if self._client_keys:
            options["client_keys"] = self._client_keys
        return await asyncssh.connect(host, **options)

    def _connect_error(self, exc: Exception) -> BackendUnavailable:
        """A message that says what failed and which setting or file to fix."""
        where = f"{self.host}:{self.port}"
        known_hosts = self._known_hosts
        if isinstance(exc, FileNotFoundError) and exc.args and exc.args[0] == known_hosts:
            msg = (
                f"known_hosts file {known_hosts} does not exist; add {where}'s host key to it "
                "(or point c.SSHBackend.known_hosts at the right file)"
            )
        elif isinstance(exc, asyncssh.HostKeyNotVerifiable):
            msg = (
                f"host key of {where} is unknown or does not match {known_hosts}; check the key with "
                "the cluster's admins and fix that file (never auto-accepted)"
            )
        elif isinstance(exc, asyncssh.PermissionDenied):
            msg = (
                f"SSH authentication as {self.username or 'the default user'} to {where} failed; "
                "check c.SSHBackend.client_keys or the ssh-agent"
            )
        elif isinstance(exc, asyncio.TimeoutError):
            msg = f"SSH to {where} timed out after {self.connect_timeout:g} s"
        elif isinstance(exc, OSError):
            msg = f"cannot reach {where}: {exc.strerror or exc}"
        else:
            msg = f"SSH to {where} failed: {exc}"
        return BackendUnavailable(msg)

    def _drop(self, conn: asyncssh.SSHClientConnection) -> None:
        if self._conn is conn:
            self._conn, self._sftp = None, None
            conn.abort()

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn, self._sftp = self._conn, None, None
            conn.close()
            await conn.wait_closed()

    # ------------------------------------------------------------- transport
    async def run(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        program = posixpath.join(self.remote_slurm_bin_dir, argv[0]) if self.remote_slurm_bin_dir else argv[0]
        return await self.run_program([program, *argv[1:]], stdin, timeout)

    async def run_program(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        command = remote_command(argv, self.remote_env)
        started = time.monotonic()
        async with self._channels:
            for attempt in (1, 2):
                conn = await self._connection()
                try:
                    process = await conn.create_process(command, encoding=None, stdin=asyncssh.PIPE)
                except asyncssh.ChannelOpenError as exc:
                    if exc.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED:
                        raise BackendUnavailable(
                            f"{self.host} refused a new SSH session ({exc.reason}); lower "
                            "c.SSHBackend.max_channels below its sshd MaxSessions",
                            retry_after=1,
                        ) from None
                    lost: Exception = exc  # asyncssh's word for "this connection is closed"
                except _CONNECTION_LOST as exc:
                    lost = exc
                else:
                    out, err, status = await self._communicate(
                        process, stdin, argv[0], conn, timeout or self.command_timeout
                    )
                    return CommandResult(
                        tuple(argv),
                        status,
                        out.decode("utf-8", "replace"),
                        err.decode("utf-8", "replace"),
                        time.monotonic() - started,
                    )
                # The command never started, so trying once more on a new connection is safe.
                self._drop(conn)
                if attempt == 2:
                    raise BackendUnavailable(f"SSH connection to {self.host} lost: {lost}") from None
        raise AssertionError("unreachable")

    async def _communicate(
        self,
        process: asyncssh.SSHClientProcess[bytes],
        stdin: bytes | None,
        name: str,
        conn: Any,
        timeout: float,
    ) -> tuple[bytes, bytes, int]:
        out, err = bytearray(), bytearray()

        async def drain(stream: asyncssh.SSHReader[bytes], buf: bytearray) -> None:
            while chunk := await stream.read(1 << 16):
                buf += chunk
                if len(buf) > self.max_output_bytes:
                    raise CommandFailed(f"{name} printed more than {self.max_output_bytes} bytes")

        async def feed() -> None:
            if stdin:
                process.stdin.write(stdin)
                await process.stdin.drain()
            process.stdin.write_eof()

        try:
            gathered = asyncio.gather(feed(), drain(process.stdout, out), drain(process.stderr, err))
            # When the guard gives up on us, wait_for cancels this future without reading its
            # outcome; read it, or asyncio logs "exception was never retrieved" with a traceback.
            gathered.add_done_callback(lambda f: f.cancelled() or f.exception())
            await asyncio.wait_for(gathered, timeout)
            await asyncio.wait_for(process.wait_closed(), timeout)
        except asyncio.TimeoutError:
            process.close()
            error = CommandTimeout(f"{name} did not finish within {timeout:g} s over SSH")
            error.partial_stderr = err.decode("utf-8", "replace")
            raise error from None
        except _CONNECTION_LOST as exc:
            self._drop(conn)
            raise BackendUnavailable(f"SSH connection to {self.host} lost during {name}: {exc}") from None
        except BaseException:
            process.close()
            raise
        status = process.exit_status
        if status is None:  # killed by a signal on the login node
            status = 128 + 15
        return bytes(out), bytes(err), status

    async def read_file(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        return await self._sftp_read(path, lambda sftp: _read_slice(sftp, path, offset, limit))

    async def auth_problem(self) -> str | None:
        """munged stopped on the login node, told from its socket being gone (an SFTP stat),
        once that socket was seen: a wrong guess of its path must never report munge down."""
        try:
            sftp = await self._sftp_client()
            if self._munge_socket is None:
                conf = self.remote_env.get("SLURM_CONF", "/etc/slurm/slurm.conf")
                text, _ = await _read_slice(sftp, conf, 0, 1 << 20)
                path = parsers.parse_munge_socket(text.decode("utf-8", "replace"))
                await sftp.stat(path)
                self._munge_socket = path
                return None
            await sftp.stat(self._munge_socket)
        except asyncssh.SFTPNoSuchFile:
            if self._munge_socket is not None:
                return f"no munged socket at {self._munge_socket} on {self.host} (is munged running?)"
        except (asyncssh.Error, OSError, BackendUnavailable):
            pass  # unknown: the probe's ping decides
        return None

    async def read_owned_file(self, path: str, offset: int, limit: int, owner_uid: int) -> tuple[bytes, int]:
        """The rules of owned_files over SFTP: stat (which never blocks) before open, and a
        deadline; an open stuck on a FIFO swapped in meanwhile costs the SFTP session, not us."""
        if not posixpath.isabs(path):
            raise OutputNotAvailable(f"{path} is not an absolute path")

        async def read(sftp: asyncssh.SFTPClient) -> tuple[bytes, int]:
            real = str(await sftp.realpath(path))
            attrs = await sftp.stat(real)
            uid = attrs.uid if attrs.uid is not None else -1
            problem = refusal(path, real, attrs.permissions or 0, uid, owner_uid)
            if problem:
                raise problem
            return await _read_slice(sftp, real, offset, limit)

        return await self._sftp_read(path, read, refuse=OutputRefused)

    async def _sftp_read(
        self,
        path: str,
        read: Callable[[asyncssh.SFTPClient], Awaitable[tuple[bytes, int]]],
        refuse: type[SlurmLabError] = OutputNotAvailable,
    ) -> tuple[bytes, int]:
        """Run ``read`` on the SFTP session within the file deadline; SFTP errors become typed
        ones (``refuse`` for permission denied)."""
        try:
            sftp = await self._sftp_client()
            return await asyncio.wait_for(read(sftp), self.file_timeout)
        except asyncio.TimeoutError:
            self._sftp = None  # the next read starts a fresh SFTP session
            raise CommandTimeout(f"reading {path} over SFTP took more than {self.file_timeout:g} s") from None
        except asyncssh.SFTPNoSuchFile:
            raise OutputNotAvailable(f"{path} does not exist yet (the job may not have started)") from None
        except asyncssh.SFTPPermissionDenied:
            raise refuse(f"{path} is not readable by {self.user} on {self.host}") from None
        except asyncssh.SFTPError as exc:
            raise OutputNotAvailable(f"{path} cannot be read over SFTP: {exc.reason}") from None
        except (*_CONNECTION_LOST, asyncssh.Error) as exc:
            if self._conn is not None and isinstance(exc, _CONNECTION_LOST):
                self._drop(self._conn)
            raise BackendUnavailable(f"SFTP to {self.host} failed: {exc}") from None

    async def make_dir(self, path: str) -> str:
        try:
            sftp = await self._sftp_client()
            # SFTP paths are relative to the login home; "~/" means the same.
            target = path[2:] if path.startswith("~/") else path
            await sftp.makedirs(target, attrs=asyncssh.SFTPAttrs(permissions=0o700), exist_ok=True)
            return str(await sftp.realpath(target))
        except asyncssh.SFTPError as exc:
            raise BackendUnavailable(f"cannot create {path} on {self.host}: {exc.reason}") from None

    async def write_file(self, path: str, data: bytes) -> None:
        try:
            sftp = await self._sftp_client()
            tmp = f"{path}.tmp"
            async with sftp.open(tmp, "wb", attrs=asyncssh.SFTPAttrs(permissions=0o600)) as fh:
                await fh.write(data)
            await sftp.posix_rename(tmp, path)
        except asyncssh.SFTPError as exc:
            raise BackendUnavailable(f"cannot write {path} on {self.host}: {exc.reason}") from None

    async def _sftp_client(self) -> asyncssh.SFTPClient:
        conn = await self._connection()
        async with self._sftp_starting:  # one SFTP session per connection, however many readers
            if self._sftp is None:
                self._sftp = await conn.start_sftp_client()
            return self._sftp


async def _read_slice(sftp: asyncssh.SFTPClient, path: str, offset: int, limit: int) -> tuple[bytes, int]:
    async with sftp.open(path, "rb") as fh:
        size = (await fh.stat()).size or 0
        await fh.seek(min(offset, size))
        data = await fh.read(limit) if limit else b""
        return data if isinstance(data, bytes) else data.encode(), size
