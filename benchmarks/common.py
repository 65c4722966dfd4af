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

import httpx

from slurm_lab.devcluster import DevCluster
from slurm_lab.devcluster.cluster import default_root
from slurm_lab.devcluster.config import MAX_ARRAY_SIZE, Layout
from tests.helpers import ROOTFUL, SERVER_USER, slurm_as, user_argv

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
#: bench_scale's cluster: 100,000 jobs, and the minutes slurmctld takes to forget them, would
#: disturb any other benchmark sharing its controller.
SCALE_DIR = BENCH_DIR.parent / "devcluster-scale"
SCALE_PORT_BASE = 11817
#: Seconds between two cold requests to one server: the running jobs' run time has changed.
PACE = 1.05
#: Tasks per array that fill_split submits (task ids 0..MaxArraySize-1).
SPLIT_CHUNK = MAX_ARRAY_SIZE - 1


def add_cluster_options(
    parser: argparse.ArgumentParser, folder: Path = BENCH_DIR, port_base: int = BENCH_PORT_BASE
) -> None:
    """``--dir`` (default: the benchmarks' own cluster, or ``folder``) and ``--port-base`` (default:
    the one kept in the folder, else ``port_base``)."""
    parser.add_argument(
        "--dir",
        type=Path,
        default=folder,
        help=f"dev cluster folder, started if it is not running (default {folder}; the tests' own "
        "cluster is python -m slurm_lab.devcluster's default)",
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=None,
        help=f"its slurmctld port (default: the one kept in the folder, else {port_base}, or the "
        "devcluster default for the default folder)",
    )
    parser.set_defaults(fallback_port_base=port_base)


def bench_cluster(args: argparse.Namespace) -> DevCluster:
    """The cluster ``--dir``/``--port-base`` name (as ``python -m slurm_lab.devcluster --dir ...``)."""
    root = Path(args.dir).expanduser().resolve()
    port_base = args.port_base
    if port_base is None and root != default_root():
        try:
            kept = json.loads(Layout(root).settings.read_text()).get("port_base")
        except (OSError, ValueError):
            kept = None
        port_base = None if kept else getattr(args, "fallback_port_base", BENCH_PORT_BASE)
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


def fill_split(
    cluster: DevCluster,
    count: int,
    user: str = SERVER_USER,
    flags: Sequence[str] = ("--hold",),
    name: str = "bench",
) -> float:
    """Add ``count`` separate job records, held unless other sbatch ``flags`` are given, in seconds
    rather than fill_queue's minutes; return the seconds it took.

    One job array per SPLIT_CHUNK jobs, then one ``scontrol update`` of every task but the last:
    slurmctld splits each task it updates off the array's pending record into a job record of its
    own (its own job id), as it does when a task starts, so ``squeue`` without ``-r`` lists each
    one on its own line, as it does separately submitted jobs.
    """
    started = time.perf_counter()
    left = count
    while left > 0:
        n = min(left, SPLIT_CHUNK)
        array = [f"--array=0-{n - 1}"] if n > 1 else []
        out = slurm_as(cluster, user, "sbatch", "--parsable", *flags, *array, f"--job-name={name}",
                       "--output=/dev/null", stdin="#!/bin/sh\ntrue\n")  # fmt: skip
        job = out.strip().split(";")[0]
        if n > 1:
            # Nice=0 is every job's default: the update changes nothing but the records.
            slurm_as(cluster, user, "scontrol", "update", f"JobId={job}_[0-{n - 2}]", "Nice=0")
        left -= n
    return time.perf_counter() - started


def clear_queue(cluster: DevCluster, user: str = SERVER_USER, timeout: float = 300) -> None:
    """Cancel every job of ``user``, each array as a whole: fill_split's 100,000 jobs are ten
    arrays, ten RPCs, where ``scancel --user`` sends one per job (over a minute, and against a
    controller busy ending the others, minutes of retries). Cancels again what is left (scancel
    may time out while slurmctld works through an array) until nothing is."""
    deadline = time.monotonic() + timeout
    while (ids := _array_ids(cluster, user)) and time.monotonic() < deadline:
        subprocess.run(user_argv(user, ["scancel", *ids], cluster.env), check=False, capture_output=True)
        time.sleep(1)


def _array_ids(cluster: DevCluster, user: str) -> list[str]:
    """The array (or plain) job ids of ``user``'s active jobs, once each."""
    listed = subprocess.run(
        user_argv(user, ["squeue", "-h", "--me", "-o", "%F"], cluster.env), capture_output=True, text=True
    )
    return sorted(set(listed.stdout.split()))


def queued(cluster: DevCluster) -> int:
    out = subprocess.run(
        ["squeue", "-h", "-t", "PD", "-o", "%i"],
        env={**os.environ, **cluster.env},
        capture_output=True,
        text=True,
    )
    return len(out.stdout.splitlines())


def records(cluster: DevCluster, states: str | None = "all") -> int:
    """Job records squeue lists with ``--states`` (None: squeue's default, the active ones); pending
    array tasks not split off count once."""
    flags = [f"--states={states}"] if states else []
    out = subprocess.run(
        ["squeue", "-h", *flags, "-o", "%i"],
        env={**os.environ, **cluster.env},
        capture_output=True,
        text=True,
        check=True,
    )
    return len(out.stdout.splitlines())


def memory_mib(pid: int) -> tuple[float, float]:
    """Process ``pid``'s resident memory now and at its peak (VmRSS, VmHWM), in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


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


def percentile(samples: Sequence[float], q: float) -> float:
    """The sample at rank ``q`` (0..1) of ``samples``, nearest rank."""
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def spread(name: str, samples_ms: list[float]) -> str:
    """summary's layout, with p90 and max."""
    return (
        f"{name:<38} n={len(samples_ms):<4} p50={statistics.median(samples_ms):8.2f} ms  "
        f"p90={percentile(samples_ms, 0.9):8.2f} ms  max={max(samples_ms):8.2f} ms"
    )


class Invalidator:
    """Makes the next read of a server cold: a change made through it (hold of an already held
    job: nothing changes in Slurm), at least PACE seconds after the last cold read."""

    def __init__(self, api: httpx.Client, job_id: str) -> None:
        self.api = api
        self.job_id = job_id
        self.last = 0.0

    def __call__(self) -> None:
        time.sleep(max(0.0, self.last + PACE - time.monotonic()))
        response = self.api.post(f"jobs/{self.job_id}/hold")
        if response.status_code != 200:  # then it may not have invalidated
            raise RuntimeError(f"hold {self.job_id}: {response.status_code} {response.text[:300]}")
        self.last = time.monotonic()
