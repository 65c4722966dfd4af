"""A login node over SSH as the cluster side: commands on one persistent connection, files
over SFTP. Host keys are always verified against ``known_hosts``; commands are argv lists
quoted by :func:`remote_command`, the only place that quotes for a remote shell."""

from __future__ import annotations

import asyncio
import getpass
import os
import posixpath
import re
import shlex
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncssh
from traitlets import Dict, Float, Int, List, TraitError, Unicode, validate

from ..errors import BackendUnavailable, CommandTimeout, OutputNotAvailable, OutputRefused, SlurmLabError
from ..runner import CommandResult, exchange
from ..slurm import parsers
from .base import Host
from .files import not_there_yet
from .owned_files import refusal
from .ssh_connection import CONNECTION_LOST, SSHConnection, SSHTarget

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def remote_command(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The one quoting function: argv (and environment) as a POSIX shell command line."""
    prefix = ["env", *(f"{k}={v}" for k, v in env.items())] if env else []
    return shlex.join([*prefix, *argv])


class SSHHost(Host):
    """Reach Slurm on a login node over SSH: ``c.SlurmLab.backend = "ssh"`` plus these settings
    (``c.SSHBackend.*``, their former name, still works)."""

    name = "ssh"

    host = Unicode(
        "",
        config=True,
        help="""Login node to connect to (a name from ~/.ssh/config works too). Required.
        Default: "". Example: c.SSHHost.host = "login.cluster.org" """,
    )
    port = Int(
        22, config=True, help="""SSH port of the login node. Default: 22. Example: c.SSHHost.port = 2222"""
    )
    username = Unicode(
        "",
        config=True,
        help="""User to log in as; Slurm sees this user. Empty means ~/.ssh/config's User, else
        the local user name. Default: "". Example: c.SSHHost.username = "alice" """,
    )
    client_keys = List(
        Unicode(),
        config=True,
        help="""Private key files to authenticate with. Empty means the ssh-agent
        (SSH_AUTH_SOCK) and the default keys in ~/.ssh. Default: [].
        Example: c.SSHHost.client_keys = ["~/.ssh/id_ed25519"]""",
    )
    known_hosts = Unicode(
        "~/.ssh/known_hosts",
        config=True,
        help="""known_hosts file the login node's host key is verified against. Host keys are
        ALWAYS verified: an unknown or changed key is an error naming this file, never accepted.
        Default: "~/.ssh/known_hosts". Example: c.SSHHost.known_hosts = "/etc/slurm-lab/known_hosts" """,
    )
    jump_host = Unicode(
        "",
        config=True,
        help="""Bastion to tunnel through, as "[user@]host[:port]" (its host key is verified
        with the same known_hosts). Empty means direct. Default: "".
        Example: c.SSHHost.jump_host = "alice@gateway.cluster.org:22" """,
    )
    ssh_config = List(
        Unicode(),
        default_value=["~/.ssh/config"],
        config=True,
        help="""OpenSSH client config files to honour (Host aliases, User, Port, IdentityFile,
        ProxyJump, ...) where asyncssh supports them; missing files are ignored. Default:
        ["~/.ssh/config"]. Example: c.SSHHost.ssh_config = []  (ignore ~/.ssh/config)""",
    )
    remote_env = Dict(
        value_trait=Unicode(),
        key_trait=Unicode(),
        config=True,
        help="""Environment for the Slurm CLIs on the login node (set with env(1) before each
        command). Default: {}. Example: c.SSHHost.remote_env = {"SLURM_CONF": "/etc/slurm/slurm.conf"}""",
    )
    remote_slurm_bin_dir = Unicode(
        "",
        config=True,
        help="""Folder of squeue, sbatch, ... on the login node. Empty means the remote PATH.
        Default: "". Example: c.SSHHost.remote_slurm_bin_dir = "/opt/slurm/bin" """,
    )
    max_channels = Int(
        8,
        config=True,
        help="""Most channels open at once on the connection: one SFTP session (for job output)
        plus commands. Keep it below the login node's sshd MaxSessions (OpenSSH default 10).
        Default: 8. Example: c.SSHHost.max_channels = 4""",
    )
    connect_timeout = Float(
        15.0,
        config=True,
        help="""Seconds to connect and authenticate before giving up (503).
        Default: 15. Example: c.SSHHost.connect_timeout = 30""",
    )
    keepalive_interval = Float(
        30.0,
        config=True,
        help="""Seconds between SSH keepalives, so idle connections through NAT and firewalls
        stay open and dead ones are noticed; 0 turns them off. Default: 30.
        Example: c.SSHHost.keepalive_interval = 10""",
    )
    max_reconnect_delay = Float(
        30.0,
        config=True,
        help="""Longest wait, in seconds, between reconnect attempts after failures (the wait
        doubles from 1 s); requests in between fail at once with 503 and Retry-After.
        Default: 30. Example: c.SSHHost.max_reconnect_delay = 60""",
    )

    @validate("remote_env")
    def _valid_env(self, proposal: Any) -> dict[str, str]:
        for key in proposal["value"]:
            if not _ENV_NAME.fullmatch(key):
                raise TraitError(f"SSHHost.remote_env: {key!r} is not an environment variable name")
        return dict(proposal["value"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.host:
            raise ValueError("c.SSHHost.host is required when c.SlurmLab.backend = 'ssh'")
        target = SSHTarget(
            host=self.host,
            port=self.port,
            username=self.username,
            client_keys=[os.path.expanduser(k) for k in self.client_keys],
            known_hosts=os.path.expanduser(self.known_hosts),
            jump_host=self.jump_host,
            ssh_configs=[p for p in (os.path.expanduser(c) for c in self.ssh_config) if os.path.isfile(p)],
            keepalive_interval=self.keepalive_interval,
            connect_timeout=self.connect_timeout,
            max_reconnect_delay=self.max_reconnect_delay,
            max_channels=self.max_channels,
        )
        self.connection = SSHConnection(target, getpass.getuser())
        self._munge_socket: str | None = None

    @property
    def user(self) -> str:
        return self.connection.user

    async def close(self) -> None:
        await self.connection.close()

    # ------------------------------------------------------------- programs
    async def run_slurm(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        program = posixpath.join(self.remote_slurm_bin_dir, argv[0]) if self.remote_slurm_bin_dir else argv[0]
        return await self.run_program([program, *argv[1:]], stdin, timeout)

    async def run_program(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        command = remote_command(argv, self.remote_env)
        started = time.monotonic()
        async with self.connection.channel():
            for attempt in (1, 2):
                conn = await self.connection.connection()
                try:
                    process = await conn.create_process(command, encoding=None, stdin=asyncssh.PIPE)
                except asyncssh.ChannelOpenError as exc:
                    if exc.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED:
                        raise BackendUnavailable(
                            f"{self.host} refused a new SSH session ({exc.reason}); lower "
                            "c.SSHHost.max_channels below its sshd MaxSessions",
                            retry_after=1,
                        ) from None
                    lost: Exception = exc  # asyncssh's word for "this connection is closed"
                except CONNECTION_LOST as exc:
                    lost = exc
                else:
                    out, err, status = await self._communicate(
                        process, stdin, posixpath.basename(argv[0]), conn, timeout or self.command_timeout
                    )
                    return CommandResult(
                        tuple(argv),
                        status,
                        out.decode("utf-8", "replace"),
                        err.decode("utf-8", "replace"),
                        time.monotonic() - started,
                    )
                # The command never started, so trying once more on a new connection is safe.
                self.connection.drop(conn)
                if attempt == 2:
                    raise BackendUnavailable(f"SSH connection to {self.host} lost: {lost}") from None
        raise AssertionError("unreachable")

    async def _communicate(
        self,
        process: asyncssh.SSHClientProcess[bytes],
        stdin: bytes | None,
        name: str,
        conn: asyncssh.SSHClientConnection,
        timeout: float,
    ) -> tuple[bytes, bytes, int]:
        out, err = bytearray(), bytearray()
        try:
            gathered = asyncio.ensure_future(
                exchange(
                    name,
                    stdin,
                    process.stdin,
                    process.stdin.write_eof,
                    (process.stdout, process.stderr),
                    (out, err),
                    self.max_output_bytes,
                )
            )
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
        except CONNECTION_LOST as exc:
            self.connection.drop(conn)
            raise BackendUnavailable(f"SSH connection to {self.host} lost during {name}: {exc}") from None
        except BaseException:
            process.close()
            raise
        status = process.exit_status
        if status is None:  # killed by a signal on the login node
            status = 128 + 15
        return bytes(out), bytes(err), status

    # ------------------------------------------------------------- files
    async def read_file(self, path: str, offset: int, limit: int) -> tuple[bytes, int]:
        return await self._sftp_read(path, lambda sftp: _read_slice(sftp, path, offset, limit))

    async def auth_problem(self) -> str | None:
        """munged stopped on the login node, told from its socket being gone (an SFTP stat),
        once that socket was seen: a wrong guess of its path must never report munge down."""
        try:
            sftp = await self.connection.sftp()
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
            sftp = await self.connection.sftp()
            return await asyncio.wait_for(read(sftp), self.file_timeout)
        except asyncio.TimeoutError:
            self.connection.forget_sftp()
            raise CommandTimeout(f"reading {path} over SFTP took more than {self.file_timeout:g} s") from None
        except asyncssh.SFTPNoSuchFile:
            raise not_there_yet(path) from None
        except asyncssh.SFTPPermissionDenied:
            raise refuse(f"{path} is not readable by {self.user} on {self.host}") from None
        except asyncssh.SFTPError as exc:
            raise OutputNotAvailable(f"{path} cannot be read over SFTP: {exc.reason}") from None
        except (*CONNECTION_LOST, asyncssh.Error) as exc:
            if isinstance(exc, CONNECTION_LOST):
                self.connection.drop()
            raise BackendUnavailable(f"SFTP to {self.host} failed: {exc}") from None

    async def make_dir(self, path: str) -> str:
        try:
            sftp = await self.connection.sftp()
            # SFTP paths are relative to the login home; "~/" means the same.
            target = path[2:] if path.startswith("~/") else path
            await sftp.makedirs(target, attrs=asyncssh.SFTPAttrs(permissions=0o700), exist_ok=True)
            return str(await sftp.realpath(target))
        except asyncssh.SFTPError as exc:
            raise BackendUnavailable(f"cannot create {path} on {self.host}: {exc.reason}") from None

    async def write_file(self, path: str, data: bytes) -> None:
        """Write beside ``path`` and rename over it (SFTP's atomic posix-rename)."""
        try:
            sftp = await self.connection.sftp()
            tmp = f"{path}.tmp"
            async with sftp.open(tmp, "wb", attrs=asyncssh.SFTPAttrs(permissions=0o600)) as fh:
                await fh.write(data)
            await sftp.posix_rename(tmp, path)
        except asyncssh.SFTPError as exc:
            raise BackendUnavailable(f"cannot write {path} on {self.host}: {exc.reason}") from None


async def _read_slice(sftp: asyncssh.SFTPClient, path: str, offset: int, limit: int) -> tuple[bytes, int]:
    async with sftp.open(path, "rb") as fh:
        size = (await fh.stat()).size or 0
        await fh.seek(min(offset, size))
        data = await fh.read(limit) if limit else b""
        return (data if isinstance(data, bytes) else data.encode()), size
