"""Shared by the benchmarks: filling the queue, timing, and printing figures."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from slurm_lab.devcluster import DevCluster
from slurm_lab.devcluster.cluster import default_root
from slurm_lab.devcluster.config import Layout
from tests.helpers import ROOTFUL, SERVER_USER, user_argv

#: The benchmarks' own dev cluster (``--dir``): a run fills its queue, never that of the dev
#: cluster the tests use. Its ports start at BENCH_PORT_BASE, clear of the default cluster's.
BENCH_DIR = (
    Path("/var/lib/slurm-lab/devcluster-bench")
    if ROOTFUL
    else Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    / "slurm-lab"
    / "devcluster-bench"
)
BENCH_PORT_BASE = 9817


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """``--dir`` (default: the benchmarks' own cluster) and ``--port-base``."""
    parser.add_argument(
        "--dir",
        type=Path,
        default=BENCH_DIR,
        help=f"dev cluster folder, started if it is not running (default {BENCH_DIR}; the tests' own "
        "cluster is python -m slurm_lab.devcluster's default)",
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=None,
        help=f"its slurmctld port (default: the one kept in the folder, else {BENCH_PORT_BASE}, or the "
        "devcluster default for the default folder)",
    )


def bench_cluster(args: argparse.Namespace) -> DevCluster:
    """The cluster ``--dir``/``--port-base`` name (as ``python -m slurm_lab.devcluster --dir ...``)."""
    root = Path(args.dir).expanduser().resolve()
    port_base = args.port_base
    if port_base is None and root != default_root():
        try:
            kept = json.loads(Layout(root).settings.read_text()).get("port_base")
        except (OSError, ValueError):
            kept = None
        port_base = None if kept else BENCH_PORT_BASE
    return DevCluster(root, port_base=port_base)


def fill_queue(
    cluster: DevCluster, count: int, user: str = SERVER_USER, flags: Sequence[str] = ("--hold",)
) -> float:
    """Submit ``count`` one-line jobs as ``user`` (held, unless other sbatch ``flags`` are given);
    return the seconds it took."""
    started = time.perf_counter()
    # One helper process submits them all, so the figure is sbatch's cost, not our spawning.
    code = (
        "import subprocess,sys\n"
        "for i in range(int(sys.argv[1])):\n"
        "    subprocess.run(['sbatch',*sys.argv[2:],'--job-name=bench','--output=/dev/null'],"
        "input=b'#!/bin/sh\\ntrue\\n',check=True,capture_output=True)\n"
    )
    subprocess.run(user_argv(user, ["python3", "-c", code, str(count), *flags], cluster.env), check=True)
    return time.perf_counter() - started


def clear_queue(cluster: DevCluster, user: str = SERVER_USER) -> None:
    subprocess.run(user_argv(user, ["scancel", "--user", user], cluster.env), check=False)


def queued(cluster: DevCluster) -> int:
    out = subprocess.run(
        ["squeue", "-h", "-t", "PD", "-o", "%i"],
        env={**os.environ, **cluster.env},
        capture_output=True,
        text=True,
    )
    return len(out.stdout.splitlines())


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def summary(name: str, samples_ms: list[float]) -> str:
    s = sorted(samples_ms)
    p99 = s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]
    return (
        f"{name:<38} n={len(s):<4} p50={statistics.median(s):8.2f} ms  p99={p99:8.2f} ms  min={s[0]:8.2f} ms"
    )
