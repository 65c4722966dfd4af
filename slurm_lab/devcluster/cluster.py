"""Start, stop and inspect a real Slurm with several nodes on this one machine, in one folder.

Daemons: munged, MariaDB and slurmdbd (accounting, on by default), slurmctld, one slurmd per node
(``slurmd -N cK``), slurmrestd. Root mode runs jobs as any Unix user and creates test users;
rootless mode runs everything as the calling user (only that user's jobs run). No systemd: the
daemons run in the foreground in their own sessions and are tracked by the PIDs recorded here,
so ``down`` stops only our own.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from . import accounting, restd
from .config import (
    DEFAULT_MAX_JOBS,
    DEFAULT_NODES,
    MAX_NODES,
    ClusterSpec,
    Layout,
    Ports,
    node_names,
    render_gres_conf,
    render_slurm_conf,
    render_slurmdbd_conf,
)
from .errors import DevClusterError
from .packages import ACCOUNTING_ONLY, RESTD_ONLY, ensure_packages, present

#: In start order; ``down`` stops them in reverse. "slurmd" stands for every node's slurmd ("slurmd:c1", ...).
DAEMONS = ("munged", "mariadb", "slurmdbd", "slurmctld", "slurmd", "slurmrestd")
#: What makes the cluster work; slurmrestd is an extra that rootless mode may go without.
CORE_DAEMONS = ("munged", "slurmctld", "slurmd")
ACCOUNTING_DAEMONS = ("mariadb", "slurmdbd")
TEST_USERS = ("slab-alice", "slab-bob")
READY_STATES = {"idle", "mix", "mixed", "alloc", "allocated", "comp", "completing"}
#: Picks the ports (see config.Ports); kept in the cluster folder once used.
PORT_BASE_ENV = "SLURM_LAB_DEVCLUSTER_PORT_BASE"


class Settings(TypedDict, total=False):
    """What ``up`` was told, kept in ``etc/devcluster.json``."""

    nodes: int
    accounting: bool
    port_base: int
    max_jobs: int


@dataclass(frozen=True)
class DaemonStatus:
    name: str  # "slurmd:c1" for node c1's slurmd
    pid: int | None
    running: bool

    @property
    def kind(self) -> str:
        """The daemon program: "slurmd" for every node's."""
        return self.name.partition(":")[0]


@dataclass(frozen=True)
class NodeState:
    name: str
    state: str  # as sinfo's %t prints it: idle, mix, down*, ...
    reason: str  # sinfo's %E ("none" when there is none)

    @property
    def ready(self) -> bool:
        """Accepts jobs: idle/mix/alloc/completing and answering (no ``*``)."""
        return "*" not in self.state and self.state.rstrip("~#$@+^-!%") in READY_STATES

    @property
    def registered(self) -> bool:
        """Its slurmd answers, whatever an admin set (a drained node is registered but not ready)."""
        return "*" not in self.state and not self.state.startswith("unk")


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
    """One dev cluster rooted at ``root``.

    Its shape (``nodes``, ``accounting``) and port base are what ``up`` was last told (kept in
    ``etc/devcluster.json``), else 4 nodes with accounting, and ports from 6817 (root) or 7817
    (rootless). ``port_base`` (or ``$SLURM_LAB_DEVCLUSTER_PORT_BASE``) overrides the kept one.
    """

    def __init__(self, root: Path | None = None, port_base: int | None = None) -> None:
        self.layout = Layout(root or default_root())
        self.rootful = os.geteuid() == 0
        self.me = pwd.getpwuid(os.geteuid()).pw_name
        # Root mode installs slurmrestd; rootless mode tries it only when it is already there.
        self.with_restd = self.rootful or all(present(p) for p in RESTD_ONLY)
        self._chosen = self._load_settings()
        env_base = os.environ.get(PORT_BASE_ENV, "").strip()
        if port_base is None and env_base:
            try:
                port_base = int(env_base)
            except ValueError as exc:
                raise DevClusterError(f"{PORT_BASE_ENV}={env_base!r} is not a port number") from exc
        if port_base is not None:
            if not 1024 < port_base < 65535 - 10 - MAX_NODES:
                raise DevClusterError(f"port base {port_base} out of range (1025..{65535 - 11 - MAX_NODES})")
            self._chosen["port_base"] = port_base
        self.ports = Ports(self._chosen.get("port_base") or (6817 if self.rootful else 7817))
        self.restd_port = self.ports.restd
        self.nodes = self._chosen.get("nodes") or DEFAULT_NODES
        self.accounting = self._chosen.get("accounting", True)
        self.max_jobs = self._chosen.get("max_jobs") or DEFAULT_MAX_JOBS
        #: Rootless, accounting is on by default only when its packages are there (we cannot install them).
        self._no_accounting_packages: list[str] = []
        if "accounting" not in self._chosen and not self.rootful:
            self._no_accounting_packages = sorted(p for p in ACCOUNTING_ONLY if not present(p))
            self.accounting = not self._no_accounting_packages

    # ----------------------------------------------------------------- queries
    @property
    def env(self) -> dict[str, str]:
        """Environment a Slurm client needs to talk to this cluster."""
        return {"SLURM_CONF": str(self.layout.conf)}

    @property
    def node_names(self) -> list[str]:
        return node_names(self.nodes)

    @property
    def restd_env(self) -> dict[str, str]:
        """Where slurmrestd answers (``SLURM_LAB_RESTD_URL``, ``SLURM_LAB_RESTD_SOCKET``); empty when it is
        not running. Requests need ``X-SLURM-USER-NAME`` and ``X-SLURM-USER-TOKEN`` (see ``token``)."""
        if not self._running("slurmrestd"):
            return {}
        return restd.restd_environment(self.layout, self.restd_port)

    def token(self, user: str, lifespan: int = 3600) -> str:
        """A JWT for ``user``, valid ``lifespan`` seconds (``scontrol token``; root or SlurmUser only)."""
        proc = self._client(["scontrol", "token", f"username={user}", f"lifespan={lifespan}"])
        if proc.returncode != 0:
            raise DevClusterError(f"scontrol token failed ({proc.returncode}): {proc.stderr.strip()}")
        return restd.parse_token(proc.stdout)

    def daemon_status(self) -> list[DaemonStatus]:
        """Each daemon of this cluster's shape (one slurmd per node), in start order, with its recorded PID
        and whether that process is alive; also any other of ours still recorded (a removed node's slurmd)."""
        recorded = {
            p.name.removesuffix(".devcluster.pid") for p in self.layout.run_dir.glob("*.devcluster.pid")
        }
        names: list[str] = []
        for kind in DAEMONS:
            if kind == "slurmd":
                nodes = [f"slurmd:{n}" for n in self.node_names]
                # A node no longer configured, or the single-node layout's slurmd.devcluster.pid.
                others = {
                    "slurmd" if r == "slurmd" else f"slurmd:{r[7:]}"
                    for r in recorded
                    if r == "slurmd" or r.startswith("slurmd-")
                }
                names += nodes + sorted(others - set(nodes))
            elif kind not in ACCOUNTING_DAEMONS or self.accounting or kind in recorded:
                names.append(kind)
        out = []
        for name in names:
            pid = _read_pid(self.layout.pidfile(name))
            out.append(DaemonStatus(name, pid, pid is not None and _alive(pid)))
        return out

    def node_states(self) -> list[NodeState] | None:
        """Every node's state and reason as sinfo reports them; None when the controller does not answer."""
        if not self.layout.conf.exists():
            return None
        try:
            proc = self._client(["sinfo", "-h", "-N", "-o", "%N|%t|%E"], timeout=15)
        except DevClusterError:
            return None
        if proc.returncode != 0:
            return None
        seen: dict[str, NodeState] = {}
        for line in proc.stdout.splitlines():  # one line per (node, partition)
            name, _, rest = line.partition("|")
            state, _, reason = rest.partition("|")
            if name and name not in seen:
                seen[name] = NodeState(name, state.lower(), reason)
        return list(seen.values()) or None

    # ----------------------------------------------------------------- up/down
    def up(
        self,
        timeout: float = 60.0,
        nodes: int | None = None,
        accounting: bool | None = None,
        max_jobs: int | None = None,
    ) -> None:
        """Start whatever is not running and wait until every node accepts jobs (and slurmrestd answers).
        ``nodes``/``accounting``/``max_jobs`` (MaxJobCount) change the shape and are kept for later
        ``up``s. Idempotent; daemons whose config file changed restart (jobs survive: state in
        StateSaveLocation)."""
        if max_jobs is not None:
            if max_jobs < 1:
                raise DevClusterError(f"--max-jobs must be at least 1, not {max_jobs}")
            self._chosen["max_jobs"] = self.max_jobs = max_jobs
        if nodes is not None:
            if not 1 <= nodes <= MAX_NODES:
                raise DevClusterError(f"--nodes must be 1..{MAX_NODES}, not {nodes}")
            self._chosen["nodes"] = self.nodes = nodes
        if accounting is not None:
            self._chosen["accounting"] = self.accounting = accounting
        if accounting is None and self._no_accounting_packages:
            print(
                f"devcluster: accounting off: {', '.join(self._no_accounting_packages)} not installed (Debian"
                " packages slurmdbd, mariadb-server); the cluster runs without slurmdbd (sacct -c reads the"
                " job-completion log)",
                file=sys.stderr,
            )
        ensure_packages(restd=self.rootful, accounting=self.accounting)
        if self.rootful:
            for user in TEST_USERS:
                _ensure_user(user)
            _ensure_user(restd.RESTD_USER, system=True)
        changed = self._prepare_folder()
        self._save_settings()
        statuses = self.daemon_status()
        wanted = {"munged", "slurmctld", "slurmrestd", *(f"slurmd:{n}" for n in self.node_names)}
        wanted |= set(ACCOUNTING_DAEMONS) if self.accounting else set()
        # Ours but not part of this shape any more: a removed node, accounting switched off.
        self._stop([d for d in statuses if d.name not in wanted])
        restart: set[str] = set()
        if "slurm.conf" in changed:
            # They read slurm.conf at start only (AuthAltTypes needs a restart, not a reconfigure);
            # jobs and held jobs survive (state in StateSaveLocation, slurmstepd outlives slurmd).
            restart |= {"slurmctld", "slurmd", "slurmrestd"}
        if "slurmdbd.conf" in changed:
            restart.add("slurmdbd")
        self.down(tuple(restart), cancel=False)
        running = {d.name for d in self.daemon_status() if d.running}
        # Every port first: a port taken by another cluster must not leave half of this one started.
        for name, port in self._ports_to_bind():
            if name not in running:
                self._check_port(name, port)
        if "munged" not in running:
            self._start_munged()
        if self.accounting:
            if "mariadb" not in running:
                self._start_mariadb(timeout)
            if "slurmdbd" not in running:
                self._start_slurmdbd(timeout)
            self._register()
        if "slurmctld" not in running:
            self._start_daemon(
                "slurmctld", [_which("slurmctld"), "-D", "-f", str(self.layout.conf)], self.ports.ctld
            )
        self._start_slurmds([n for n in self.node_names if f"slurmd:{n}" not in running])
        self._wait_ready(timeout)
        # sacct -c opens the job-completion file read-write: every user needs 0666. After slurmctld's
        # start, which sets it to 0644.
        self.layout.jobcomp.chmod(0o666)
        if self.with_restd and "slurmrestd" not in running:
            self._start_restd(timeout)

    def down(self, only: tuple[str, ...] = DAEMONS, cancel: bool = True) -> None:
        """Stop our own daemons (by recorded PID), running jobs first (unless not ``cancel``) so no
        slurmstepd is left behind. ``only`` holds kinds ("slurmd": every node) or names ("slurmd:c2")."""
        statuses = self.daemon_status()
        chosen = [d for d in statuses if d.kind in only or d.name in only]
        running = {d.kind for d in statuses if d.running}
        if cancel and any(d.kind == "slurmd" for d in chosen) and {"slurmctld", "slurmd"} <= running:
            self._client(["scancel", "--state=RUNNING", *(["--user", self.me] if not self.rootful else [])])
        self._stop(chosen)

    def _stop(self, chosen: list[DaemonStatus]) -> None:
        """Stop these daemons in reverse start order and forget their PIDs."""
        for kind in reversed(DAEMONS):
            for status in chosen:
                if status.kind != kind:
                    continue
                if status.running and status.pid is not None:
                    _terminate(status.pid, grace=30.0 if kind == "mariadb" else 10.0)
                self.layout.pidfile(status.name).unlink(missing_ok=True)
        if any(d.kind == "slurmrestd" for d in chosen):
            self.layout.restd_socket.unlink(missing_ok=True)

    def node_down(self, node: str, reason: str | None = None) -> None:
        """Stop node ``node``'s slurmd, as a crashed node: slurmctld sets it DOWN ("Not responding") after
        SlurmdTimeout. With ``reason``, also ``scontrol update state=down`` at once (no wait)."""
        self._check_node(node)
        self.down((f"slurmd:{node}",), cancel=False)
        if reason is not None:
            proc = self._client(["scontrol", "update", f"nodename={node}", "state=down", f"reason={reason}"])
            if proc.returncode != 0:
                raise DevClusterError(f"scontrol update {node} state=down failed: {proc.stderr.strip()}")

    def node_up(self, node: str, timeout: float = 60.0) -> None:
        """Start node ``node``'s slurmd again and wait until the node accepts jobs. A node DOWN for not
        responding is back when its slurmd registers (ReturnToService=2); one an admin set DOWN or DRAIN
        while its slurmd kept running is resumed (``scontrol update state=resume``)."""
        self._check_node(node)
        started = time.monotonic()
        if not self._running(f"slurmd:{node}"):
            self._start_slurmds([node])
        else:
            started -= 3.0  # registered long ago: resume at once if it is down
        resumed = False

        def ready() -> bool:
            nonlocal resumed
            state = {s.name: s for s in self.node_states() or []}.get(node)
            if state is None or state.ready:
                return state is not None
            admin = "*" not in state.state and state.state.rstrip("~#$@+^-!%") in {"down", "drain", "drng"}
            if admin and not resumed and time.monotonic() - started > 2.0:
                self._client(["scontrol", "update", f"nodename={node}", "state=resume"])
                resumed = True
            return False

        _wait_for(ready, timeout, f"node {node} did not come back", self.layout.logfile(f"slurmd:{node}"))

    def pause(self, name: str, paused: bool = True) -> None:
        """Freeze (SIGSTOP) or thaw (SIGCONT) one daemon ("slurmd": every node's): a hung controller."""
        chosen = [d for d in self.daemon_status() if d.name == name or (name == "slurmd" and d.kind == name)]
        if not chosen or not all(d.running and d.pid is not None for d in chosen):
            raise DevClusterError(f"{name} is not running")
        for status in chosen:
            os.kill(status.pid or 0, signal.SIGSTOP if paused else signal.SIGCONT)

    # ----------------------------------------------------------------- internals
    def _running(self, name: str) -> bool:
        pid = _read_pid(self.layout.pidfile(name))
        return pid is not None and _alive(pid)

    def _check_node(self, node: str) -> None:
        if node not in self.node_names:
            raise DevClusterError(f"no node {node!r}; this cluster has {', '.join(self.node_names)}")

    def _client(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client against this cluster (munge, never a JWT from our own environment)."""
        env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
        try:
            return subprocess.run(
                [_which(argv[0]), *argv[1:]],
                env={**env, **self.env},
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise DevClusterError(f"{argv[0]} did not answer within {timeout:.0f} s") from exc

    def _load_settings(self) -> Settings:
        try:
            data = json.loads(self.layout.settings.read_text())
        except (OSError, ValueError):
            return Settings()
        out = Settings()
        if isinstance(data, dict):
            if isinstance(data.get("nodes"), int):
                out["nodes"] = data["nodes"]
            if isinstance(data.get("accounting"), bool):
                out["accounting"] = data["accounting"]
            if isinstance(data.get("port_base"), int):
                out["port_base"] = data["port_base"]
            if isinstance(data.get("max_jobs"), int):
                out["max_jobs"] = data["max_jobs"]
        return out

    def _save_settings(self) -> None:
        text = json.dumps(self._chosen, sort_keys=True) + "\n"
        if not self.layout.settings.exists() or self.layout.settings.read_text() != text:
            self.layout.settings.write_text(text)

    def _spec(self) -> ClusterSpec:
        hostname = socket.gethostname().split(".")[0]
        jwt_key = self.layout.jwt_key if self.with_restd else None
        user, slurmd_user = ("slurm", "root") if self.rootful else (self.me, self.me)
        return ClusterSpec(
            self.layout,
            hostname,
            user,
            slurmd_user,
            self.ports,
            self.nodes,
            self.accounting,
            jwt_key,
            max_jobs=self.max_jobs,
        )

    def _daemon_user(self, name: str) -> str:
        """Who we start ``name`` as (root-started daemons drop to their own user themselves)."""
        if not self.rootful:
            return self.me
        return {"munged": "munge", "slurmrestd": restd.RESTD_USER}.get(name.partition(":")[0], "root")

    def _prepare_folder(self) -> set[str]:
        """Create the folders, keys and config files; returns the names of those (re)written
        ("slurm.conf" for slurm.conf or gres.conf, "slurmdbd.conf")."""
        lay = self.layout
        owner = "slurm" if self.rootful else self.me
        munge_owner = "munge" if self.rootful else self.me
        db_owner = "mysql" if self.rootful else self.me
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
            *((lay.node_spool(n), None, 0o755) for n in self.node_names),
            (lay.run_dir, owner, 0o755),
            (lay.log_dir, owner, 0o755),
            *([(lay.db_dir, db_owner, 0o750)] if self.accounting else []),
            *([(lay.restd_dir, self._daemon_user("slurmrestd"), 0o755)] if self.with_restd else []),
        ]:
            path.mkdir(parents=True, exist_ok=True, mode=mode)
            path.chmod(mode)
            if user and self.rootful:
                shutil.chown(path, user, user)
        spec = self._spec()
        if spec.jwt_key:
            restd.ensure_jwt_key(spec.jwt_key, spec.slurm_user if self.rootful else None)
        changed = set()
        if _write_if_changed(lay.conf, render_slurm_conf(spec)) | _write_if_changed(
            lay.gres_conf, render_gres_conf(spec)
        ):
            changed.add("slurm.conf")
        if self.accounting:
            if not lay.db_password.exists():
                fd = os.open(lay.db_password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(16) + "\n")
            password = lay.db_password.read_text().strip()
            if _write_if_changed(lay.slurmdbd_conf, render_slurmdbd_conf(spec, password), mode=0o600):
                changed.add("slurmdbd.conf")
            # slurmdbd refuses a slurmdbd.conf not owned by SlurmUser or readable by others.
            if self.rootful:
                shutil.chown(lay.slurmdbd_conf, owner, owner)
            mariadb_log = lay.logfile("mariadb")
            mariadb_log.touch()
            if self.rootful:
                shutil.chown(mariadb_log, db_owner, db_owner)
        if not lay.jobcomp.exists():
            lay.jobcomp.touch()
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
        return changed

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

    def _start_mariadb(self, timeout: float) -> None:
        """MariaDB in the folder: system tables made once (``mariadb-install-db``), then mariadbd, then
        slurmdbd's database and account (idempotent)."""
        lay = self.layout
        db_user = "mysql" if self.rootful else self.me
        log = lay.logfile("mariadb")
        installed = lay.db_dir / "installed"
        if not installed.exists():
            shutil.rmtree(lay.db_data, ignore_errors=True)  # a half-made one from an interrupted run
            made = subprocess.run(
                accounting.install_db_argv(_which("mariadb-install-db"), lay, db_user),
                capture_output=True,
                text=True,
                cwd=lay.root,
                timeout=max(timeout, 60),
            )
            if made.returncode != 0:
                tail = "\n".join((made.stdout + made.stderr).strip().splitlines()[-10:])
                raise DevClusterError(f"mariadb-install-db failed ({made.returncode}):\n{tail}")
            installed.touch()
        self._check_port("mariadb", self.ports.mariadb)
        lay.db_socket.unlink(missing_ok=True)
        argv = accounting.mariadbd_argv(
            _which("mariadbd"), lay, self.ports, db_user if self.rootful else None
        )
        proc = self._popen("mariadb", argv)
        admin = accounting.client_argv(_which("mariadb"), lay, "root" if self.rootful else self.me)
        sql = accounting.bootstrap_sql(lay.db_password.read_text().strip())

        def bootstrapped() -> bool:
            if proc.poll() is not None:
                raise DevClusterError(f"mariadbd exited at start: {restd.last_line(log)}; see {log}")
            if not lay.db_socket.exists():
                return False
            return (
                subprocess.run(admin, input=sql, capture_output=True, text=True, timeout=30).returncode == 0
            )

        _wait_for(bootstrapped, timeout, "MariaDB did not accept slurmdbd's database", log)

    def _start_slurmdbd(self, timeout: float) -> None:
        self._check_port("slurmdbd", self.ports.dbd)
        proc = self._popen("slurmdbd", [_which("slurmdbd"), "-D"])
        log = self.layout.logfile("slurmdbd")

        def listens() -> bool:
            if proc.poll() is not None:
                raise DevClusterError(f"slurmdbd exited at start: {restd.last_line(log)}; see {log}")
            return _port_open(self.ports.dbd)

        _wait_for(listens, timeout, "slurmdbd did not listen", log)

    def _register(self) -> None:
        """Add what sacctmgr does not know yet: the cluster, accounts, QOS ``limited``, the users."""
        env = {**{k: v for k, v in os.environ.items() if k != "SLURM_JWT"}, **self.env}
        # At once: each sacctmgr costs about 0.2 s, mostly its connection to slurmdbd.
        queries = [
            (query, subprocess.Popen(
                [_which("sacctmgr"), "-n", "-P", *query], env=env, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            ))
            for query in accounting.QUERIES
        ]  # fmt: skip
        outputs = []
        for query, running in queries:
            try:
                out, err = running.communicate(timeout=30)
            except subprocess.TimeoutExpired as exc:
                running.kill()
                raise DevClusterError(f"sacctmgr {' '.join(query)} did not answer within 30 s") from exc
            if running.returncode != 0:
                raise DevClusterError(f"sacctmgr {' '.join(query)} failed: {err.strip()}")
            outputs.append(out)
        known = accounting.Registered.parse(*outputs)
        people = accounting.members(self.me, self.rootful, TEST_USERS, restd.RESTD_USER)
        for command in accounting.registration(self._spec().cluster_name, known, people):
            proc = self._client(["sacctmgr", "-i", *command])
            if proc.returncode != 0:
                why = (proc.stdout + proc.stderr).strip()
                raise DevClusterError(f"sacctmgr {' '.join(command)} failed ({proc.returncode}): {why}")

    def _start_daemon(self, name: str, argv: list[str], port: int) -> None:
        self._check_port(name, port)
        self._spawn(name, argv)

    def _start_slurmds(self, nodes: list[str]) -> None:
        """One ``slurmd -N NODE`` per node, all started before the one check that none exited at once."""
        started = []
        for node in nodes:
            index = self.node_names.index(node) + 1
            self._check_port(f"slurmd -N {node}", self.ports.node(index))
            self.layout.node_spool(node).mkdir(parents=True, exist_ok=True)
            argv = [_which("slurmd"), "-D", "-N", node, "-f", str(self.layout.conf)]
            started.append((node, self._popen(f"slurmd:{node}", argv)))
        if started:
            time.sleep(0.2)
        for node, proc in started:
            if proc.poll() is not None:
                raise DevClusterError(
                    f"slurmd -N {node} exited at start (code {proc.returncode}); "
                    f"see {self.layout.logfile(f'slurmd:{node}')}"
                )

    def _ports_to_bind(self) -> list[tuple[str, int]]:
        """(daemon, TCP port) for each daemon of this shape that listens (slurmrestd: root mode only,
        rootless goes on without it)."""
        out = [("slurmctld", self.ports.ctld)]
        out += [(f"slurmd:{n}", self.ports.node(i)) for i, n in enumerate(self.node_names, start=1)]
        if self.accounting:
            out += [("mariadb", self.ports.mariadb), ("slurmdbd", self.ports.dbd)]
        if self.with_restd and self.rootful:
            out.append(("slurmrestd", self.restd_port))
        return out

    def _check_port(self, name: str, port: int) -> None:
        if _port_in_use(port):
            raise DevClusterError(
                f"port {port} is in use (another {name}?); stop it, point SLURM_LAB_DEVCLUSTER_DIR at that "
                f"cluster, or choose other ports with {PORT_BASE_ENV}"
            )

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
        wanted = {"munged", "slurmctld", *(f"slurmd:{n}" for n in self.node_names)}
        wanted |= set(ACCOUNTING_DAEMONS) if self.accounting else set()

        def ready() -> bool:
            for d in self.daemon_status():
                if d.name in wanted and not d.running:
                    raise DevClusterError(f"{d.name} stopped; see {self.layout.logfile(d.name)}")
            states = {s.name: s for s in self.node_states() or []}
            return all(n in states and states[n].registered for n in self.node_names)

        _wait_for(ready, timeout, "the nodes did not become ready", self.layout.logfile("slurmctld"))
        for state in self.node_states() or []:
            if not state.ready:  # set DOWN or DRAIN by an admin (or a test): stays so, as on a real cluster
                print(
                    f"devcluster: node {state.name} is {state.state} ({state.reason}); "
                    f"python -m slurm_lab.devcluster node up {state.name} resumes it",
                    file=sys.stderr,
                )


def _write_if_changed(path: Path, text: str, mode: int | None = None) -> bool:
    """Write ``text`` unless ``path`` already holds it (created with ``mode``); True when written."""
    if path.exists() and path.read_text() == text:
        if mode is not None:
            path.chmod(mode)
        return False
    if mode is not None:
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return True


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


def _port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(check: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise DevClusterError(f"{what} within {timeout:.0f} s; see {log}")
