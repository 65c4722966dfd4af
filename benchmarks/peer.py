"""The peer we compare with: jupyterlab-slurm 4.x from PyPI, in a venv of its own, run as its own
Jupyter server by the same Unix user and against the same cluster as ours.

    .venv/bin/python -m benchmarks.peer [--dir /var/lib/slurm-lab/devcluster-bench] [--port-base 9817]

creates the venv once (kept beside the benchmarks' cluster, outside the repository), starts the
peer, GETs its queue as its frontend does and checks the rows against squeue's.

Its frontend asks ``GET {base_url}jupyterlab_slurm/squeue`` with no query (requestAPI("squeue");
"my jobs only" filters in the browser). The handler runs squeue on every request (no cache) with
the argv :func:`peer_squeue_argv` reads from its source, and answers every row as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from slurm_lab.devcluster import DevCluster
from tests.helpers import ME, SERVER_USER, free_port, stop_process, user_argv, wait_until_answering

from .common import BENCH_DIR, add_cluster_options, bench_cluster, records

REQUIREMENT = "jupyterlab-slurm>=4,<5"
#: Beside the benchmarks' cluster: outside the repository, readable by the server's user.
PEER_VENV = BENCH_DIR.parent / "bench-peer-venv"
#: The queue's URL under the server's base_url, as its frontend builds it (no query).
SQUEUE_PATH = "jupyterlab_slurm/squeue"
#: Written once the install succeeded: what was installed, with which interpreter.
_STAMP = "slurm-lab-bench.json"
#: Where its SqueueHandler keeps squeue's options (handlers.py, SqueueHandler.initialize).
_FORMATTING = re.compile(r"self\.output_formatting\s*=\s*'([^']*)'")

PEER_CONFIG = """
c.ServerApp.open_browser = False
c.ServerApp.jpserver_extensions = {"jupyterlab_slurm": True}
"""


def ensure_venv(venv: Path = PEER_VENV) -> Path:
    """The peer's venv, created and installed on first use (about 15 s); returns its python.

    Made with the interpreter our own .venv runs on, so both servers run the same Python."""
    python = venv / "bin" / "python"
    interpreter = str(Path(sys.executable).resolve())
    wanted = {"requirement": REQUIREMENT, "interpreter": interpreter}
    stamp = venv / _STAMP
    try:
        if json.loads(stamp.read_text()) == wanted and python.exists():
            return python
    except (OSError, ValueError):
        pass
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", REQUIREMENT],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        raise RuntimeError(f"pip install {REQUIREMENT!r} failed:\n{install.stderr[-3000:]}")
    stamp.write_text(json.dumps(wanted) + "\n")
    return python


def _ask(python: Path, expression: str) -> str:
    """``expression`` evaluated by the peer's Python, with jupyterlab_slurm imported."""
    code = f"import jupyterlab_slurm, os; print({expression})"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _package_dir(python: Path) -> Path:
    return Path(_ask(python, "os.path.dirname(jupyterlab_slurm.__file__)"))


def peer_version(python: Path) -> str:
    return _ask(python, "jupyterlab_slurm.__version__")


def peer_squeue_argv(python: Path) -> list[str]:
    """The squeue argv the installed peer runs for its queue (its squeue_path is "squeue" on PATH,
    its options string shlex-split, as its _run_command does)."""
    source = (_package_dir(python) / "handlers.py").read_text()
    found = _FORMATTING.search(source)
    if found is None:
        raise RuntimeError("jupyterlab_slurm's SqueueHandler.output_formatting not found: a new layout?")
    return ["squeue", *shlex.split(found.group(1))]


@dataclass
class PeerServer:
    """A running peer (``jupyter server`` with jupyterlab_slurm), owned by ``user``."""

    url: str
    token: str
    user: str
    pid: int
    log: Path
    version: str
    squeue_argv: list[str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"token {self.token}"}, timeout=120)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def get_squeue(client: httpx.Client) -> tuple[float, bytes]:
    """The peer's queue as its frontend asks for it: (milliseconds, body)."""
    started = time.perf_counter()
    response = client.get(SQUEUE_PATH)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000, response.content


def squeue_ms_bytes(client: httpx.Client) -> tuple[float, int]:
    """:func:`get_squeue`'s time and body size."""
    ms, body = get_squeue(client)
    return ms, len(body)


def rows(body: bytes) -> int:
    """How many jobs a peer answer lists (raises when it reports a failure)."""
    answer = json.loads(body)
    if not answer.get("success"):
        raise RuntimeError(f"peer squeue failed: {answer.get('errorMessage')}")
    return len(answer["data"]["rows"])


@contextmanager
def peer_server(cluster: DevCluster, user: str = SERVER_USER, venv: Path = PEER_VENV) -> Iterator[PeerServer]:
    """Start the peer as ``user`` with the cluster's Slurm environment; stop it afterwards."""
    python = ensure_venv(venv)
    entry = pwd.getpwnam(user)
    workdir = Path(tempfile.mkdtemp(prefix="slurm-lab-peer-"))
    workdir.chmod(0o755)
    (workdir / "jupyter_server_config.py").write_text(PEER_CONFIG)
    if user != ME:
        shutil.chown(workdir, entry.pw_uid, entry.pw_gid)
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        str(python), "-m", "jupyter_server",
        f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={entry.pw_dir}",
        f"--config={workdir / 'jupyter_server_config.py'}",
        *(["--allow-root"] if user == "root" else []),
    ]  # fmt: skip
    env = {"JUPYTER_CONFIG_DIR": str(workdir / "config"), "JUPYTER_DATA_DIR": str(workdir / "data"),
           "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), **cluster.env}  # fmt: skip
    log = workdir / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            user_argv(user, argv, env), stdout=out, stderr=subprocess.STDOUT, cwd=entry.pw_dir
        )
    server = PeerServer(
        f"http://127.0.0.1:{port}/",
        token,
        user,
        proc.pid,
        log,
        peer_version(python),
        peer_squeue_argv(python),
    )
    try:
        with server.client() as client:
            wait_until_answering(
                proc,
                lambda: client.get("jupyterlab_slurm/status").status_code != 404,
                "peer jupyter server",
                server.log_text,
            )
        yield server
    finally:
        stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def check(cluster: DevCluster) -> None:
    """Start the peer, GET its queue, and compare its rows with squeue's own count."""
    with peer_server(cluster) as peer, peer.client() as client:
        ms, body = get_squeue(client)
        env = {**os.environ, **cluster.env}
        raw = subprocess.run(peer.squeue_argv, env=env, capture_output=True, check=True).stdout
        print(f"jupyterlab-slurm {peer.version} at {peer.url} as {peer.user}, pid {peer.pid}")
        print(f"its squeue argv: {shlex.join(peer.squeue_argv)}")
        print(
            f"GET {SQUEUE_PATH}: {ms:.1f} ms, {len(body)} bytes, {rows(body)} rows; its squeue prints "
            f"{len(raw.splitlines())} lines; squeue --states=all lists {records(cluster)} records"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_cluster_options(parser)
    args = parser.parse_args()
    cluster = bench_cluster(args)
    cluster.up()
    check(cluster)


if __name__ == "__main__":
    main()
