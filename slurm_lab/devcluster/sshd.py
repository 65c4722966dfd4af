"""A real OpenSSH sshd on loopback for the SSH backend: own host key, key-only logins (root mode).

Each test user gets a key pair in ``<cluster>/sshd/keys/<user>/`` and the folder has a
``known_hosts`` with this sshd's host key, so clients verify it like any login node's.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from .cluster import TEST_USERS, _alive, _port_in_use, _read_pid, _terminate, _wait_for
from .config import Layout
from .errors import DevClusterError

DEFAULT_PORT = 2222


class DevSSHD:
    def __init__(self, layout: Layout, port: int = DEFAULT_PORT) -> None:
        self.layout = layout
        self.port = port
        self.dir = layout.root / "sshd"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    def client_key(self, user: str) -> Path:
        return self.dir / "keys" / user / "id_ed25519"

    @property
    def pidfile(self) -> Path:
        return self.layout.pidfile("sshd")

    @property
    def log(self) -> Path:
        return self.layout.logfile("sshd")

    def running(self) -> bool:
        pid = _read_pid(self.pidfile)
        return pid is not None and _alive(pid)

    def up(self) -> None:
        """Start sshd on 127.0.0.1:port unless running. Needs root (sshd switches users)."""
        if os.geteuid() != 0:
            raise DevClusterError("the dev sshd needs root (it logs in as the test users)")
        if self.running():
            return
        sshd = shutil.which("sshd", path="/usr/sbin:/sbin:" + os.environ.get("PATH", ""))
        if not sshd:
            raise DevClusterError("sshd not found; install openssh-server")
        self._prepare()
        if _port_in_use(self.port):
            raise DevClusterError(f"port {self.port} is in use; stop what listens there")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation folder
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(self.dir / "sshd_config")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{proc.pid}\n")
        _wait_for(
            lambda: _port_in_use(self.port) or proc.poll() is not None, 10, "sshd did not listen", self.log
        )
        if proc.poll() is not None:
            raise DevClusterError(f"sshd exited (code {proc.returncode}); see {self.log}")

    def down(self, sessions: bool = True) -> None:
        """Stop the listener and (like a login node going down) its open sessions."""
        pid = _read_pid(self.pidfile)
        if pid is not None and _alive(pid):
            children = _descendants(pid) if sessions else []
            _terminate(pid)
            for child in children:
                _terminate(child, grace=2)
        self.pidfile.unlink(missing_ok=True)

    def _prepare(self) -> None:
        (self.dir / "authorized_keys").mkdir(parents=True, exist_ok=True)
        host_key = self.dir / "ssh_host_ed25519_key"
        if not host_key.exists():
            _keygen(host_key, "slurm-lab dev sshd")
        for user in TEST_USERS:
            entry = pwd.getpwnam(user)
            key = self.client_key(user)
            if not key.exists():
                key.parent.mkdir(parents=True, exist_ok=True)
                _keygen(key, f"{user}@slurm-lab-dev")
            for path in (key.parent, key, key.with_suffix(".pub")):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            key.parent.chmod(0o700)
            key.chmod(0o600)
            (self.dir / "authorized_keys" / user).write_text(key.with_suffix(".pub").read_text())
        public = host_key.with_suffix(".pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n")
        self.known_hosts.chmod(0o644)
        (self.dir / "sshd_config").write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {self.layout.run_dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}/%u",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin no",
                    "UsePAM no",
                    "StrictModes no",
                    "AllowAgentForwarding no",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "MaxSessions 10",
                    "LogLevel VERBOSE",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        found += kids
        frontier = kids
    return found


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
