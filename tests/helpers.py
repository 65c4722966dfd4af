"""Test helpers: run commands as a Unix user, start a real Jupyter server, talk to its API."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from slurm_lab.devcluster import DevCluster
from slurm_lab.devcluster.sshd import DevSSHD

ROOTFUL = os.geteuid() == 0
ME = pwd.getpwuid(os.geteuid()).pw_name
#: The Unix users the tests act as: the server's user and "someone else" (root mode only).
SERVER_USER = "slab-alice" if ROOTFUL else ME
OTHER_USER = "slab-bob" if ROOTFUL else None


def user_argv(user: str, argv: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
    """``argv`` as ``user`` (via setpriv when we are root and it is someone else)."""
    entry = pwd.getpwnam(user)
    full_env = {"HOME": entry.pw_dir, "USER": user, "PATH": os.environ["PATH"], **(env or {})}
    env_argv = ["env", "-i", *(f"{k}={v}" for k, v in full_env.items())]
    if user == ME:
        return [*env_argv, *argv]
    return ["setpriv", f"--reuid={user}", f"--regid={entry.pw_gid}", "--init-groups", *env_argv, *argv]


def slurm_as(cluster: DevCluster, user: str, *argv: str, stdin: str | None = None) -> str:
    """Run a Slurm CLI as ``user`` and return stdout (raises on failure)."""
    proc = subprocess.run(
        user_argv(user, argv, cluster.env), input=stdin, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LabServer:
    """A running ``jupyter server`` with slurm-lab, owned by ``user``."""

    url: str
    token: str
    user: str
    log: Path
    backend: str = "local"
    pid: int = 0  # the server process (setpriv and env exec into it)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}slurm-lab/api/",
            headers={"Authorization": f"token {self.token}"},
            timeout=60,
            **kwargs,  # type: ignore[arg-type]
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


SERVER_CONFIG = """
c.ServerApp.allow_unauthenticated_access = False
c.ServerApp.open_browser = False
c.ServerApp.jpserver_extensions = {{"slurm_lab": True}}
c.SlurmLab.cache_ttl = {ttl}
c.SlurmLab.slurm_conf = {conf!r}
c.SlurmLab.retry_after = 2
{extra}
"""


@contextmanager
def lab_server(
    cluster: DevCluster,
    user: str = SERVER_USER,
    ttl: float = 1.0,
    extra_config: str = "",
    backend: str = "local",
    env: dict[str, str] | None = None,
) -> Iterator[LabServer]:
    """Start a real Jupyter server (as ``user``, with ``env`` added) and stop it afterwards."""
    entry = pwd.getpwnam(user)
    workdir = Path(tempfile.mkdtemp(prefix="slurm-lab-server-"))
    workdir.chmod(0o755)
    (workdir / "jupyter_server_config.py").write_text(
        SERVER_CONFIG.format(ttl=ttl, conf=str(cluster.layout.conf), extra=extra_config)
    )
    log = workdir / "server.log"
    port, token = free_port(), secrets.token_hex(16)
    if user != ME:
        shutil.chown(workdir, entry.pw_uid, entry.pw_gid)
    argv = [
        sys.executable, "-m", "jupyter_server",
        f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={entry.pw_dir}",
        f"--config={workdir / 'jupyter_server_config.py'}",
        *(["--allow-root"] if user == "root" else []),
    ]  # fmt: skip
    server_env = {"JUPYTER_CONFIG_DIR": str(workdir / "config"), "JUPYTER_DATA_DIR": str(workdir / "data"),
                  "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), **(env or {})}  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            user_argv(user, argv, server_env), stdout=out, stderr=subprocess.STDOUT, cwd=entry.pw_dir
        )
    server = LabServer(f"http://127.0.0.1:{port}/", token, user, log, backend, proc.pid)
    try:
        with server.client() as client:
            # Any answer from the extension will do (503 is an answer); 404 means not loaded yet.
            wait_until_answering(
                proc, lambda: client.get("status").status_code != 404, "jupyter server", server.log_text
            )
        yield server
    finally:
        stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def wait_until_answering(
    proc: subprocess.Popen[bytes],
    probe: Callable[[], bool],
    what: str,
    log: Callable[[], str],
    timeout: float = 60,
) -> None:
    """Poll ``probe`` until it is true; fail with the log's tail if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}:\n{log()[-3000:]}")
        try:
            if probe():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer in {timeout} s:\n{log()[-3000:]}")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def ssh_config(
    sshd: DevSSHD, cluster: DevCluster, user: str = SERVER_USER, known_hosts: str | None = None
) -> str:
    """Server config selecting the SSH backend against the dev sshd, logging in as ``user``."""
    return f"""
c.SlurmLab.backend = "ssh"
c.SSHHost.host = "127.0.0.1"
c.SSHHost.port = {sshd.port}
c.SSHHost.username = {user!r}
c.SSHHost.client_keys = [{str(sshd.client_key(user))!r}]
c.SSHHost.known_hosts = {known_hosts or str(sshd.known_hosts)!r}
c.SSHHost.remote_env = {{"SLURM_CONF": {str(cluster.layout.conf)!r}}}
"""


def restd_config(cluster: DevCluster, user: str = SERVER_USER, via: str = "tcp") -> str:
    """Server config selecting the slurmrestd backend (files on this machine), with a JWT for
    ``user`` in a file only that user can read; ``via`` "tcp" or "unix" (the socket)."""
    folder = Path(tempfile.mkdtemp(prefix="slurm-lab-jwt-"))
    token_file = folder / "jwt"
    token_file.write_text(cluster.token(user, 3600))
    token_file.chmod(0o600)
    if user != ME:
        shutil.chown(folder, user, user)
        shutil.chown(token_file, user, user)
    env = cluster.restd_env
    url = env["SLURM_LAB_RESTD_URL"] if via == "tcp" else f"unix:{env['SLURM_LAB_RESTD_SOCKET']}"
    return f"""
c.SlurmLab.backend = "slurmrestd"
c.SlurmLab.host_class = "local"
c.SlurmrestdScheduler.url = {url!r}
c.SlurmrestdScheduler.token_file = {str(token_file)!r}
"""


def wait_for(predicate, timeout: float = 30, interval: float = 0.25, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def rpc_count(cluster: DevCluster, name: str) -> int:
    """How many RPCs of type ``name`` (e.g. REQUEST_JOB_INFO) slurmctld has served, from ``sdiag``."""
    import re

    out = subprocess.run(
        ["sdiag"], env={**os.environ, **cluster.env}, capture_output=True, text=True, check=True
    )
    m = re.search(rf"\b{name}\s+\(\s*\d+\)\s+count:(\d+)", out.stdout)
    return int(m.group(1)) if m else 0


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@contextmanager
def jupyterlab(cluster: DevCluster, extra_config: str = "") -> Iterator[str]:
    """A real JupyterLab (as this user) with slurm-lab on the dev cluster; yields its URL with token."""
    root = Path(tempfile.mkdtemp(prefix="slurm-lab-lab-"))
    (root / "jupyter_server_config.py").write_text(
        f"c.SlurmLab.slurm_conf = {str(cluster.layout.conf)!r}\n{extra_config}\n"
    )
    port, token = free_port(), secrets.token_hex(8)
    argv = [sys.executable, "-m", "jupyterlab", f"--port={port}", "--no-browser", f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}", *(["--allow-root"] if ROOTFUL else [])]  # fmt: skip
    env = {**os.environ, **cluster.env, "JUPYTER_CONFIG_DIR": str(root)}
    lab = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/api/status?token={token}"), 60, what="JupyterLab")
        yield f"http://127.0.0.1:{port}/lab?token={token}"
    finally:
        lab.terminate()
        lab.wait(15)
        shutil.rmtree(root, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def paused(cluster: DevCluster, daemon: str) -> Iterator[None]:
    """``daemon`` frozen with SIGSTOP (a hung slurmctld or munged) until the block ends."""
    cluster.pause(daemon)
    try:
        yield
    finally:
        cluster.pause(daemon, paused=False)


def run_as(user: str, *argv: str) -> None:
    """Run a plain program (mkfifo, ln, ...) as ``user``; raises on failure."""
    subprocess.run(user_argv(user, argv), check=True, capture_output=True, timeout=30)


def squeue_ids(cluster: DevCluster, user: str, name: str) -> list[str]:
    """Ids of ``user``'s jobs named ``name``, every state Slurm still remembers."""
    out = slurm_as(
        cluster, user, "squeue", "--noheader", "--me", "--states=all", f"--name={name}", "-o", "%i"
    )
    return out.split()


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid``, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def refreshed(
    api: httpx.Client, done: Callable[[httpx.Response], bool], within: float, what: str
) -> httpx.Response:
    """GET jobs until ``done`` holds, within ``within`` s. A read past the cache window is
    answered at once with the last listing while it starts the refresh (stale-while-revalidate):
    what the refresh found (a 503, a new listing) shows in the reads after it."""
    started = time.monotonic()
    first = api.get("jobs")
    assert time.monotonic() - started < 1, "a read past the window waited for Slurm"
    if done(first):
        return first

    def answered() -> httpx.Response | None:
        r = api.get("jobs")
        return r if done(r) else None

    answer: httpx.Response = wait_for(answered, timeout=within, interval=0.05, what=what)
    return answer
