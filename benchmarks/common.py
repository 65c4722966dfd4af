"""Shared by the benchmarks: filling the queue, timing, and printing figures."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable

from slurm_lab.devcluster import DevCluster
from tests.helpers import SERVER_USER, user_argv


def fill_queue(cluster: DevCluster, count: int, user: str = SERVER_USER) -> float:
    """Submit ``count`` held one-line jobs as ``user``; return the seconds it took."""
    started = time.perf_counter()
    # One helper process submits them all, so the figure is sbatch's cost, not our spawning.
    code = (
        "import subprocess,sys\n"
        "for i in range(int(sys.argv[1])):\n"
        "    subprocess.run(['sbatch','--hold','--job-name=bench','--output=/dev/null'],"
        "input=b'#!/bin/sh\\ntrue\\n',check=True,capture_output=True)\n"
    )
    subprocess.run(user_argv(user, ["python3", "-c", code, str(count)], cluster.env), check=True)
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
