"""Start, stop and inspect a real single-node Slurm (munged, slurmctld, slurmd, slurmrestd) in one folder.

Root mode runs jobs as any Unix user and creates test users; rootless mode runs everything as
the calling user (only that user's jobs run). No systemd: the daemons run in the foreground in
their own sessions and are tracked by the PIDs recorded here, so ``down`` stops only our own.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import restd
from .config import ClusterSpec, Layout, render_slurm_conf
from .errors import DevClusterError
from .packages import RESTD_ONLY, ensure_packages, present

#: In start order; ``down`` stops them in reverse.
DAEMONS = ("munged", "slurmctld", "slurmd", "slurmrestd")
#: What makes the cluster work; slurmrestd is an extra that rootless mode may go without.
CORE_DAEMONS = ("munged", "slurmctld", "slurmd")
TEST_USERS = ("slab-alice", "slab-bob")
READY_STATES = {"idle", "mix", "mixed", "alloc", "allocated", "comp", "completing"}


@dataclass(frozen=True)
class DaemonStatus:
    name: str
    pid: int | None
    running: bool


def default_root() -> Path:
    """The cluster folder: ``$SLURM_LAB_DEVCLUSTER_DIR``, else a per-mode default.

    Root mode uses a folder every test user can traverse (their clients need the munge socket
    and slurm.conf); rootless mode uses the user's XDG state folder.
    """
    env = os.environ.get("SLURM_LAB_DEVCLUSTER_DIR")
    if env:
        return Path(env).expanduser().resolve()
    if os.geteuid() == 0:
        return Path("/var/lib/slurm-lab/devcluster")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "slurm-lab" / "devcluster"


class DevCluster:
    """One dev cluster rooted at ``root``."""

    def __init__(self, root: Path | None = None) -> None:
        self.layout = Layout(root or default_root())
        self.rootful = os.geteuid() == 0
        self.me = pwd.getpwuid(os.geteuid()).pw_name
        # Root mode installs slurmrestd; rootless mode tries it only when it is already there.
        self.with_restd = self.rootful or all(present(p) for p in RESTD_ONLY)
        self.restd_port = 6820 if self.rootful else 7820

    # ----------------------------------------------------------------- queries
    @property
    def env(self) -> dict[str, str]:
        """Environment a Slurm client needs to talk to this cluster."""
        return {"SLURM_CONF": str(self.layout.conf)}

    @property
    def restd_env(self) -> dict[str, str]:
        """Where slurmrestd answers (``SLURM_LAB_RESTD_URL``, ``SLURM_LAB_RESTD_SOCKET``); empty when it is
        not running. Requests need ``X-SLURM-USER-NAME`` and ``X-SLURM-USER-TOKEN`` (see ``token``)."""
        if not self._running("slurmrestd"):
            return {}
        return restd.restd_environment(self.layout, self.restd_port)

    def token(self, user: str, lifespan: int = 3600) -> str:
        """A JWT for ``user``, valid ``lifespan`` seconds (``scontrol token``; root or SlurmUser only)."""
        # A token in our own environment would make scontrol authenticate with it instead of munge.
        env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
        try:
            proc = subprocess.run(
                [_which("scontrol"), "token", f"username={user}", f"lifespan={lifespan}"],
                env={**env, **self.env},
                capture_output=True,
                text=True,
                timeout=30,
            )
        except subprocess.TimeoutExpired as exc:
            raise DevClusterError("scontrol token did not answer within 30 s") from exc
        if proc.returncode != 0:
            raise DevClusterError(f"scontrol token failed ({proc.returncode}): {proc.stderr.strip()}")
        return restd.parse_token(proc.stdout)

    def daemon_status(self) -> list[DaemonStatus]:
        """Each daemon of DAEMONS with its recorded PID and whether that process is alive."""
        out = []
        for name in DAEMONS:
            pid = _read_pid(self.layout.pidfile(name))
            out.append(DaemonStatus(name, pid, pid is not None and _alive(pid)))
        return out

    def node_state(self) -> str | None:
        """The node's state as sinfo reports it, or None when the controller does not answer."""
        if not self.layout.conf.exists():
            return None
        try:
            proc = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%t"],
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
                timeout=15,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        # One line per (node, partition); the single node has one state.
        first = proc.stdout.strip().splitlines()[:1]
        state = first[0].lower().rstrip("*~#$@+^-!%") if first else ""
        return state if proc.returncode == 0 and state else None

    # ----------------------------------------------------------------- up/down
    def up(self, timeout: float = 60.0) -> None:
        """Start whatever is not running and wait until the node accepts jobs (and slurmrestd
        answers). Idempotent; daemons that read slurm.conf restart when its text changed."""
        ensure_packages(restd=self.rootful)
        if self.rootful:
            for user in TEST_USERS:
                _ensure_user(user)
            _ensure_user(restd.RESTD_USER, system=True)
        conf_changed = self._prepare_folder()
        running = {d.name for d in self.daemon_status() if d.running}
        if conf_changed:
            # They read slurm.conf at start only (AuthAltTypes needs a restart, not a reconfigure);
            # jobs and held jobs survive (state in StateSaveLocation, slurmstepd outlives slurmd).
            self.down(tuple(name for name in DAEMONS if name in running and name != "munged"), cancel=False)
            running &= {"munged"}
        if "munged" not in running:
            self._start_munged()
        if "slurmctld" not in running:
            self._start_slurm("slurmctld", self._spec().ctld_port)
        if "slurmd" not in running:
            self._start_slurm("slurmd", self._spec().slurmd_port)
        self._wait_ready(timeout)
        if self.with_restd and "slurmrestd" not in running:
            self._start_restd(timeout)

    def down(self, only: tuple[str, ...] = DAEMONS, cancel: bool = True) -> None:
        """Stop our own daemons (by recorded PID), running jobs first (unless not ``cancel``) so no
        slurmstepd is left behind."""
        statuses = {d.name: d for d in self.daemon_status()}
        wants_cancel = cancel and "slurmd" in only
        if wants_cancel and statuses["slurmctld"].running and statuses["slurmd"].running:
            subprocess.run(
                ["scancel", "--state=RUNNING", *(["--user", self.me] if not self.rootful else [])],
                env={**os.environ, **self.env},
                capture_output=True,
                timeout=30,
            )
        for name in reversed(DAEMONS):
            status = statuses[name]
            if name in only and status.running and status.pid is not None:
                _terminate(status.pid)
            if name in only:
                self.layout.pidfile(name).unlink(missing_ok=True)
        if "slurmrestd" in only:
            self.layout.restd_socket.unlink(missing_ok=True)

    def pause(self, name: str, paused: bool = True) -> None:
        """Freeze (SIGSTOP) or thaw (SIGCONT) one daemon: a hung controller or munged, for real."""
        status = next(d for d in self.daemon_status() if d.name == name)
        if not status.running or status.pid is None:
            raise DevClusterError(f"{name} is not running")
        os.kill(status.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    # ----------------------------------------------------------------- internals
    def _running(self, name: str) -> bool:
        pid = _read_pid(self.layout.pidfile(name))
        return pid is not None and _alive(pid)

    def _spec(self) -> ClusterSpec:
        node_line = subprocess.run(
            [_which("slurmd"), "-C"], capture_output=True, text=True, check=True
        ).stdout.splitlines()[0]
        hostname = socket.gethostname().split(".")[0]
        jwt_key = self.layout.jwt_key if self.with_restd else None
        if self.rootful:
            return ClusterSpec(self.layout, hostname, node_line, "slurm", "root", 6817, 6818, jwt_key)
        return ClusterSpec(self.layout, hostname, node_line, self.me, self.me, 7817, 7818, jwt_key)

    def _daemon_user(self, name: str) -> str:
        if not self.rootful:
            return self.me
        users = {"munged": "munge", "slurmctld": "root", "slurmd": "root", "slurmrestd": restd.RESTD_USER}
        return users[name]

    def _prepare_folder(self) -> bool:
        """Create the folders, keys and slurm.conf; True when slurm.conf was (re)written."""
        lay = self.layout
        owner = "slurm" if self.rootful else self.me
        munge_owner = "munge" if self.rootful else self.me
        for path in _parents_up_to_root(lay.root):
            # Clients of every test user must traverse to the munge socket and slurm.conf.
            if path.exists() and self.rootful and not path.stat().st_mode & 0o001:
                raise DevClusterError(
                    f"{path} is not traversable by other users; choose another folder with "
                    "SLURM_LAB_DEVCLUSTER_DIR"
                )
        for path, user, mode in [
            (lay.root, None, 0o755),
            (lay.conf.parent, None, 0o755),
            (lay.munge_dir, munge_owner, 0o711),
            (lay.ctld_state, owner, 0o755),
            (lay.slurmd_spool, None, 0o755),
            (lay.run_dir, owner, 0o755),
            (lay.log_dir, owner, 0o755),
            *([(lay.restd_dir, self._daemon_user("slurmrestd"), 0o755)] if self.with_restd else []),
        ]:
            path.mkdir(parents=True, exist_ok=True, mode=mode)
            path.chmod(mode)
            if user and self.rootful:
                shutil.chown(path, user, user)
        spec = self._spec()
        if spec.jwt_key:
            restd.ensure_jwt_key(spec.jwt_key, spec.slurm_user if self.rootful else None)
        conf = render_slurm_conf(spec)
        conf_changed = not lay.conf.exists() or lay.conf.read_text() != conf
        if conf_changed:
            lay.conf.write_text(conf)
        # sacct -c reads the job-completion file; other users need to read it too.
        if not lay.jobcomp.exists():
            lay.jobcomp.touch()
        lay.jobcomp.chmod(0o666)
        if self.rootful:
            shutil.chown(lay.jobcomp, owner, owner)
        if not lay.munge_key.exists():
            subprocess.run(
                [_which("mungekey"), "--create", f"--keyfile={lay.munge_key}"],
                check=True,
                capture_output=True,
            )
            lay.munge_key.chmod(0o400)
            if self.rootful:
                shutil.chown(lay.munge_key, munge_owner, munge_owner)
        return conf_changed

    def _start_munged(self) -> None:
        lay = self.layout
        lay.munge_socket.unlink(missing_ok=True)
        argv = [
            _which("munged"),
            "-F",
            f"--socket={lay.munge_socket}",
            f"--key-file={lay.munge_key}",
            f"--log-file={lay.logfile('munged')}",
            f"--pid-file={lay.munge_dir / 'munged.pid'}",
            f"--seed-file={lay.munge_dir / 'munged.seed'}",
        ]
        self._spawn("munged", argv)
        _wait_for(
            lambda: lay.munge_socket.exists(), 10, "munged did not create its socket", lay.logfile("munged")
        )

    def _start_slurm(self, name: str, port: int) -> None:
        if _port_in_use(port):
            raise DevClusterError(
                f"port {port} is in use (another {name}?); stop it or point "
                "SLURM_LAB_DEVCLUSTER_DIR at that cluster"
            )
        self._spawn(name, [_which(name), "-D", "-f", str(self.layout.conf)])

    def _start_restd(self, timeout: float) -> None:
        """Start slurmrestd and wait until it answers. Rootless, a failure is one line on stderr and the
        rest keeps working. (22.05 refuses root but, despite its message, not SlurmUser: that check
        runs before slurm.conf is read. Its sockets are made with umask 0: anyone may connect.)"""
        lay = self.layout
        log = lay.logfile("slurmrestd")
        try:
            if _port_in_use(self.restd_port):
                raise DevClusterError(f"port {self.restd_port} is in use (another slurmrestd?); stop it")
            lay.restd_socket.unlink(missing_ok=True)
            argv = restd.restd_argv(_which("slurmrestd"), lay, self.restd_port)
            token = self.token(self.me, lifespan=60)  # also proves slurmctld signs JWTs
            # SLURM_JWT=daemon: its own calls to slurmctld carry each request's JWT, no munge needed.
            proc = self._popen("slurmrestd", argv, {"SLURM_JWT": "daemon"}, log)

            def answers() -> bool:
                if proc.poll() is not None:
                    why = restd.last_line(log) or f"exit code {proc.returncode}"
                    raise DevClusterError(f"slurmrestd exited at start: {why}")
                ok = restd.openapi_answers(self.restd_port, self.me, token)
                return ok and lay.restd_socket.exists()

            try:
                _wait_for(answers, min(timeout, 30.0), "slurmrestd did not answer", log)
            except DevClusterError:
                self.down(("slurmrestd",))
                raise
        except DevClusterError as exc:
            if self.rootful:
                raise
            print(f"devcluster: slurmrestd skipped, the cluster runs without it ({exc})", file=sys.stderr)

    def _spawn(self, name: str, argv: list[str]) -> None:
        proc = self._popen(name, argv)
        time.sleep(0.2)
        if proc.poll() is not None:
            raise DevClusterError(
                f"{name} exited at start (code {proc.returncode}); see {self.layout.logfile(name)}"
            )

    def _popen(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, log: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``name`` detached, as its daemon user, and record its PID."""
        user = self._daemon_user(name)
        drop_groups = self.rootful and user != "root"
        with open(log or self.layout.logfile(f"{name}.stdio"), "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env, **(env or {})},
                user=user if self.rootful else None,
                group=user if self.rootful else None,
                extra_groups=[] if drop_groups else None,  # not root's supplementary groups
                cwd=self.layout.root,
            )
        self.layout.pidfile(name).write_text(f"{proc.pid}\n")
        return proc

    def _wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            for d in self.daemon_status():
                if d.name in CORE_DAEMONS and not d.running:
                    raise DevClusterError(f"{d.name} stopped; see {self.layout.logfile(d.name)}")
            return self.node_state() in READY_STATES

        _wait_for(ready, timeout, "the node did not become ready", self.layout.logfile("slurmd"))


def _which(name: str) -> str:
    for folder in (None, "/usr/sbin", "/sbin"):
        path = shutil.which(name, path=folder)
        if path:
            return path
    raise DevClusterError(f"{name} not found; install Slurm and munge (slurm-wlm, munge)")


def _ensure_user(name: str, system: bool = False) -> None:
    """Create a test user (home, bash, key-only login), or a ``system`` user for a daemon (no login)."""
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    if system:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True
        )
        return
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    # "*" (not "!") so sshd's key-only login accepts the account.
    subprocess.run(["usermod", "-p", "*", name], check=True)


def _parents_up_to_root(path: Path) -> list[Path]:
    return [p for p in [path, *path.parents] if p != Path("/")]


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (zombies are reaped late here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _terminate(pid: int, grace: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def _wait_for(check: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise DevClusterError(f"{what} within {timeout:.0f} s; see {log}")
