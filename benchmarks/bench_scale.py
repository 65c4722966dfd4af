"""The queue at 1,000 / 10,000 / 100,000 jobs: our GET jobs (cold, cached, 304, format=table)
against the raw squeue it wraps, and against the peer, jupyterlab-slurm 4.x (benchmarks/peer.py),
with body sizes and the servers' memory.

    .venv/bin/python -m benchmarks.bench_scale [--sizes 1000,10000,100000] [--rounds 7] [--running 2]
        [--rss-requests 100] [--dir /var/lib/slurm-lab/devcluster-scale] [--port-base 11817]
        [--code DIR] [--keep] [--down]

Runs on a dev cluster of its own (``--dir``, default devcluster-scale beside the benchmarks' one,
slurmctld on port 11817; started if needed, MaxJobCount raised for the largest size): 100,000
jobs, and the minutes slurmctld takes to forget them once cancelled, would disturb other
benchmarks sharing its controller. The queue grows from size to size (held jobs, made with
common.fill_split: seconds, even for 100,000), plus ``--running`` jobs that run throughout, so
the listing changes every second as a real one does (their run time), and a cold request parses
and encodes rather than finding squeue's output unchanged.

At each size, in rounds whose order rotates (so every way sees the same machine):

- raw squeue with our argv (slurm_lab.slurm.argv.squeue("all")), with the peer's argv (read from
  its installed source), and plain ``squeue --states=all``;
- our GET jobs?scope=all, cold: the first read after the cache was invalidated (a POST jobs/{id}/hold
  of a held job, untimed, as any change made through the server does), at least a second after the
  last one. It waits for squeue, parsing and encoding. A read once cache_ttl has expired does not
  wait: it is served the last listing while the refresh runs (stale-while-revalidate), at the
  cached cost;
- the same with format=table (n/a when the server does not know it), cold and cached;
- cached (cache_ttl an hour), and revalidated with the ETag (304);
- the peer's GET jupyterlab_slurm/squeue, as its frontend asks it: it runs squeue every time.

Then each server's VmRSS and VmHWM, and at the largest size those of the cold server again after
``--rss-requests`` more cold requests.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx

from slurm_lab.devcluster import DevCluster
from slurm_lab.devcluster.config import DEFAULT_MAX_JOBS
from slurm_lab.slurm import argv as build
from tests.helpers import SERVER_USER, LabServer, lab_server

from .bench_insight import ensure_running, squeue_ids
from .bench_queue import server_options
from .common import (
    SCALE_DIR,
    SCALE_PORT_BASE,
    Invalidator,
    add_cluster_options,
    bench_cluster,
    clear_queue,
    fill_split,
    memory_mib,
    percentile,
    records,
)
from .peer import PeerServer, get_squeue, peer_server, rows

#: How long to wait for slurmctld to be done with an earlier run (MinJobAge is 300 s).
PURGE_WAIT = 600
ALL = {"scope": "all"}
TABLE = {"scope": "all", "format": "table"}
RAW_OURS = "raw squeue, our argv"
RAW_PEER = "raw squeue, the peer's argv"
COLD = "GET jobs?scope=all, cold"
PEER = "peer GET squeue (no cache)"


@dataclass
class Way:
    """One way to get the queue: ``run`` returns the body's bytes (None: not available here);
    ``prepare`` runs untimed before each sample."""

    name: str
    run: Callable[[], int | None]
    prepare: Callable[[], None] = lambda: None
    ms: list[float] = field(default_factory=list)
    size: int | None = None
    missing: bool = False

    def sample(self) -> None:
        if self.missing:
            return
        self.prepare()
        started = time.perf_counter()
        size = self.run()
        elapsed = (time.perf_counter() - started) * 1000
        if size is None:
            self.missing = True
            return
        self.ms.append(elapsed)
        self.size = size


def measure(ways: list[Way], rounds: int) -> None:
    """``rounds`` samples of each way, interleaved, the order rotating each round."""
    for r in range(rounds):
        k = r % len(ways)
        for way in ways[k:] + ways[:k]:
            way.sample()


# --------------------------------------------------------------------- the ways
def raw(cluster: DevCluster, argv: Callable[[], list[str]]) -> Callable[[], int]:
    """Run a Slurm CLI as this process (bench_queue.raw_squeue's way); the bytes it printed."""
    env = {**os.environ, **cluster.env}
    return lambda: len(subprocess.run(argv(), env=env, capture_output=True, check=True).stdout)


def get(api: httpx.Client, params: dict[str, str], headers: dict[str, str] | None = None) -> int:
    response = api.get("jobs", params=params, headers=headers or {})
    if response.status_code not in (200, 304):
        raise RuntimeError(f"GET jobs {params}: {response.status_code} {response.text[:300]}")
    return len(response.content)


def get_table(api: httpx.Client) -> int | None:
    """GET jobs in the compact form; None when the server does not know format=table (an error,
    or an answer in the objects form)."""
    response = api.get("jobs", params=TABLE)
    if response.status_code != 200 or not response.content.startswith(b'{"format":"table"'):
        return None
    return len(response.content)


@dataclass
class Servers:
    """Our server with cache_ttl 0 (cold reads), ours with an hour (cached reads), and the peer."""

    cold: LabServer
    warm: LabServer
    peer: PeerServer
    cold_api: httpx.Client
    warm_api: httpx.Client
    peer_api: httpx.Client


@contextmanager
def servers(cluster: DevCluster, options: dict[str, object]) -> Iterator[Servers]:
    with ExitStack() as stack:
        cold = stack.enter_context(lab_server(cluster, ttl=0, **options))  # type: ignore[arg-type]
        warm = stack.enter_context(lab_server(cluster, ttl=3600, **options))  # type: ignore[arg-type]
        peer = stack.enter_context(peer_server(cluster))
        yield Servers(
            cold,
            warm,
            peer,
            stack.enter_context(cold.client()),
            stack.enter_context(warm.client()),
            stack.enter_context(peer.client()),
        )


def ways(cluster: DevCluster, s: Servers, held_job: str) -> list[Way]:
    """Every way to get the queue, each checked once (what each lists is printed)."""
    invalidate = Invalidator(s.cold_api, held_job)
    etag = s.warm_api.get("jobs", params=ALL).headers["ETag"]
    s.warm_api.get("jobs", params=TABLE)  # its encoding cached too
    return [
        Way(RAW_OURS, raw(cluster, lambda: build.squeue("all", secrets.token_urlsafe(6)))),
        Way(RAW_PEER, raw(cluster, lambda: s.peer.squeue_argv)),
        Way("raw squeue --states=all (plain)", raw(cluster, lambda: ["squeue", "--states=all"])),
        Way(COLD, lambda: get(s.cold_api, ALL), invalidate),
        Way("GET ...&format=table, cold", lambda: get_table(s.cold_api), invalidate),
        Way("GET jobs?scope=all, cached", lambda: get(s.warm_api, ALL)),
        Way("GET jobs?scope=all, 304", lambda: get(s.warm_api, ALL, {"If-None-Match": etag})),
        Way("GET ...&format=table, cached", lambda: get_table(s.warm_api)),
        Way(PEER, lambda: len(get_squeue(s.peer_api)[1])),
    ]


def check_counts(s: Servers, expected: int) -> None:
    """Both servers list the jobs squeue does (the peer only active ones: that is all there are)."""
    ours = len(s.cold_api.get("jobs", params=ALL).json()["jobs"])
    theirs = rows(get_squeue(s.peer_api)[1])
    print(f"listed: ours {ours}, the peer {theirs}, squeue {expected}")
    if ours != expected or theirs != expected:
        print("  WARNING: the counts differ (jobs that started or ended meanwhile?)")


# --------------------------------------------------------------------- the queue
def settle(cluster: DevCluster) -> None:
    """Wait for slurmctld to be done with an earlier run: its finished jobs forgotten (they would
    swell our --states=all listing, not the peer's) and their records sent to slurmdbd."""
    deadline = time.monotonic() + PURGE_WAIT
    while True:
        finished, queue = records(cluster) - records(cluster, None), dbd_queue(cluster)
        if not finished and not queue:
            return
        if time.monotonic() > deadline:
            print(f"WARNING: {finished} finished jobs still listed by --states=all, DBD agent queue {queue}")
            return
        print(f"waiting for slurmctld: {finished} finished jobs listed (MinJobAge), DBD agent queue {queue}")
        time.sleep(30)


def sdiag(cluster: DevCluster) -> str:
    return subprocess.run(["sdiag"], env={**os.environ, **cluster.env}, capture_output=True, text=True).stdout


def dbd_queue(cluster: DevCluster) -> int:
    """sdiag's "DBD Agent queue size": messages slurmctld has yet to send slurmdbd."""
    found = re.search(r"DBD Agent queue size:\s*(\d+)", sdiag(cluster))
    return int(found.group(1)) if found else 0


def grow(cluster: DevCluster, size: int) -> None:
    """Held jobs until squeue lists ``size`` active jobs."""
    missing = size - records(cluster, None)
    if missing > 0:
        took = fill_split(cluster, missing)
        print(f"queued {missing} held jobs in {took:.2f} s ({missing / took:,.0f} jobs/s)")


def max_jobs(cluster: DevCluster, largest: int) -> int | None:
    """MaxJobCount with room for the largest queue and an earlier run's finished jobs; None when
    the cluster's is enough."""
    needed = 2 * largest + 10_000
    return needed if needed > max(cluster.max_jobs, DEFAULT_MAX_JOBS) else None


def ctld_health(cluster: DevCluster) -> str:
    """slurmctld's memory and sdiag's thread and agent-queue figures."""
    pid = next(d.pid for d in cluster.daemon_status() if d.name == "slurmctld")
    rss, hwm = memory_mib(pid) if pid else (0.0, 0.0)
    out = sdiag(cluster)
    picked = [
        line.strip() for line in out.splitlines() if line.startswith(("Server thread", "DBD Agent queue"))
    ]
    return f"slurmctld VmRSS {rss:.0f} MiB (HWM {hwm:.0f}); " + "; ".join(picked)


# --------------------------------------------------------------------- printing
def memory_line(s: Servers, label: str) -> str:
    parts = []
    for name, pid in (("ours cold", s.cold.pid), ("ours cached", s.warm.pid), ("peer", s.peer.pid)):
        rss, hwm = memory_mib(pid)
        parts.append(f"{name} {rss:.0f}/{hwm:.0f}")
    return f"{label}: VmRSS/VmHWM MiB: " + ", ".join(parts)


def cell(way: Way) -> str:
    if way.missing or not way.ms:
        return f"{'n/a':>30}"
    return f"{statistics.median(way.ms):9.1f}{percentile(way.ms, 0.9):9.1f}{way.size or 0:12,}"


def table(results: dict[int, list[Way]]) -> None:
    sizes = list(results)
    print("\n" + f"{'':<34}" + "".join(f"{f'{n:,} jobs':>30}" for n in sizes))
    print(f"{'':<34}" + f"{'p50 ms':>9}{'p90 ms':>9}{'bytes':>12}" * len(sizes))
    for i, way in enumerate(results[sizes[0]]):
        print(f"{way.name:<34}" + "".join(cell(results[n][i]) for n in sizes))
    for label, a, b in [
        ("cold GET / raw squeue (ours)", COLD, RAW_OURS),
        ("peer GET / raw squeue (peer's)", PEER, RAW_PEER),
        ("peer GET / our cold GET", PEER, COLD),
    ]:
        print(f"{label:<34}" + "".join(ratio(results[n], a, b) for n in sizes))


def ratio(row: list[Way], a: str, b: str) -> str:
    """The medians' ratio of ways ``a`` and ``b``."""
    by_name = {way.name: way for way in row}
    if not by_name[a].ms or not by_name[b].ms:
        return f"{'n/a':>30}"
    return f"{statistics.median(by_name[a].ms) / statistics.median(by_name[b].ms):>29.2f}x"


# --------------------------------------------------------------------- main
def at_size(cluster: DevCluster, args: argparse.Namespace, size: int, largest: bool) -> list[Way]:
    grow(cluster, size)
    expected = records(cluster, None)
    held = squeue_ids(cluster, "-t", "PD")[0]
    print(f"\n== {expected:,} jobs ({records(cluster):,} with --states=all); {ctld_health(cluster)}")
    with servers(cluster, server_options(cluster, "local", args.code)) as s:
        check_counts(s, expected)
        row = ways(cluster, s, held)
        measure(row, args.rounds)
        for way in row:
            print(f"  {way.name:<34}" + cell(way))
        print(memory_line(s, f"after {args.rounds} rounds"))
        if largest and args.rss_requests:
            cold = next(way for way in row if way.name == COLD)
            for _ in range(args.rss_requests):
                cold.prepare()
                cold.run()
            print(memory_line(s, f"after {args.rss_requests} more cold GETs"))
    print(ctld_health(cluster))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_cluster_options(parser, SCALE_DIR, SCALE_PORT_BASE)
    parser.add_argument(
        "--sizes", default="1000,10000", help="queue sizes, ascending (e.g. 1000,10000,100000)"
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--running", type=int, default=2, help="jobs running throughout (part of the size)")
    parser.add_argument("--rss-requests", type=int, default=100, help="cold GETs before the last RSS reading")
    parser.add_argument("--code", default="", help="run our server from another checkout (before/after)")
    parser.add_argument("--keep", action="store_true", help="leave the jobs queued afterwards")
    parser.add_argument("--down", action="store_true", help="stop the cluster's daemons afterwards")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.sizes.split(","))

    cluster = bench_cluster(args)
    cluster.up(timeout=180, max_jobs=max_jobs(cluster, sizes[-1]))
    print(
        f"cluster {cluster.layout.root}, slurmctld port {cluster.ports.ctld}, MaxJobCount "
        f"{cluster.max_jobs}; server user {SERVER_USER}"
    )
    settle(cluster)
    print(f"running: {ensure_running(cluster, args.running)} jobs")
    results: dict[int, list[Way]] = {}
    try:
        for size in sizes:
            if (queued := records(cluster, None)) > size * 1.1:
                print(f"skipping {size:,} jobs: the queue already holds {queued:,}")
                continue
            results[size] = at_size(cluster, args, size, size == sizes[-1])
    finally:
        if results:
            table(results)
        if not args.keep:
            started = time.perf_counter()
            clear_queue(cluster)
            print(f"cancelled the queue in {time.perf_counter() - started:.1f} s")
        if args.down:
            cluster.down()


if __name__ == "__main__":
    main()
