"""GET jobs with a big queue vs the raw squeue it wraps, and slurmctld RPCs under many pollers.

    .venv/bin/python -m benchmarks.bench_queue [--jobs 10000] [--rounds 15] [--clients 20] [--seconds 60]
        [--format objects|table] [--backend local|slurmrestd] [--code DIR]
        [--rounds 0 to skip the cold/cached figures] [--seconds 0 to skip the RPC storm]

Needs the dev cluster (./dev setup). Prints medians, the API/raw ratio, and the sdiag RPC count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
from urllib.parse import urlencode

import httpx

from slurm_lab.devcluster import DevCluster
from slurm_lab.slurm import argv as build
from tests.helpers import lab_server, restd_config, rpc_count

from .bench_insight import squeue_ids
from .common import Invalidator, clear_queue, fill_queue, queued, summary, timed


def raw_squeue(cluster: DevCluster) -> None:
    subprocess.run(
        build.squeue("all", "bench"), env={**os.environ, **cluster.env}, capture_output=True, check=True
    )


def server_options(cluster: DevCluster, backend: str, code: str) -> dict[str, object]:
    """lab_server arguments for ``backend``, running the code in ``code`` (a checkout) if given."""
    options: dict[str, object] = {"env": {"PYTHONPATH": os.path.abspath(code)}} if code else {}
    if backend == "slurmrestd":
        options.update(extra_config=restd_config(cluster), backend="slurmrestd")
    return options


def cold_vs_raw(cluster: DevCluster, rounds: int, options: dict[str, object]) -> None:
    # Cold: the read after a change made through the server (a hold of a held job, untimed), the
    # one read that waits for squeue, its parse and encoding; a read past the window does not.
    held = squeue_ids(cluster, "-t", "PD")[0]  # a held job of the server's user
    with lab_server(cluster, ttl=3600, **options) as server, server.client() as api:  # type: ignore[arg-type]
        size = len(api.get("jobs", params={"scope": "all"}).content)
        invalidate = Invalidator(api, held)
        raw, cold = [], []
        for _ in range(rounds):  # interleaved, so both see the same machine
            raw.append(timed(lambda: raw_squeue(cluster)))
            invalidate()
            cold.append(timed(lambda: api.get("jobs", params={"scope": "all"}).raise_for_status()))
        print(summary("raw squeue (same argv)", raw))
        print(summary("GET jobs?scope=all, cold", cold))
        ratio = statistics.median(cold) / statistics.median(raw)
        print(f"{'API / raw (medians)':<38} {ratio:.2f}x   response {size / 1e6:.2f} MB")
    with lab_server(cluster, ttl=3600, **options) as server, server.client() as api:  # type: ignore[arg-type]
        api.get("jobs", params={"scope": "all"})
        cached = [
            timed(lambda: api.get("jobs", params={"scope": "all"}).raise_for_status())
            for _ in range(rounds * 3)
        ]
        print(summary("GET jobs?scope=all, cached", cached))
        etag = api.get("jobs", params={"scope": "all"}).headers["ETag"]
        same = [
            timed(lambda: api.get("jobs", params={"scope": "all"}, headers={"If-None-Match": etag}))
            for _ in range(rounds * 3)
        ]
        print(summary("GET jobs?scope=all, cached, 304", same))


def rpc_storm(
    cluster: DevCluster, clients: int, seconds: float, ttl: float, fmt: str, options: dict[str, object]
) -> None:
    """``clients`` pollers of one server, each a GET every 0.2 s: their latency (every request,
    including those that land when a window has passed) and slurmctld's RPCs per minute."""
    rpc_types = ("REQUEST_JOB_INFO", "REQUEST_PARTITION_INFO")
    params = {"scope": "all", **({"format": fmt} if fmt != "objects" else {})}
    with lab_server(cluster, ttl=ttl, **options) as server:  # type: ignore[arg-type]
        latencies: list[float] = []

        async def client(stop: float) -> None:
            async with httpx.AsyncClient(
                base_url=f"{server.url}slurm-lab/api/",
                headers={"Authorization": f"token {server.token}"},
                timeout=60,
            ) as api:
                while time.monotonic() < stop:
                    started = time.perf_counter()
                    (await api.get("jobs", params=params)).raise_for_status()
                    latencies.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0.2)

        async def run() -> None:
            stop = time.monotonic() + seconds
            await asyncio.gather(*(client(stop) for _ in range(clients)))

        with server.client() as api:  # the first read waits for squeue; every later one is timed
            api.get("jobs", params=params).raise_for_status()
        before = {name: rpc_count(cluster, name) for name in rpc_types}
        asyncio.run(run())
        per_min = {name: (rpc_count(cluster, name) - before[name]) * 60 / seconds for name in rpc_types}
        print(
            summary(f"{clients} clients, GET jobs?{urlencode(params)}", latencies)
            + f"  max={max(latencies):8.2f} ms"
        )
        print(
            f"{clients} clients x {seconds:.0f} s, TTL {ttl:g} s: {len(latencies)} requests -> slurmctld "
            + ", ".join(f"{name} {n:.1f}/min" for name, n in per_min.items())
            + f" (one per window: {60 / ttl:.0f}/min; a squeue per request would be {len(latencies) * 60 / seconds:.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ttl", type=float, default=3.0)
    parser.add_argument(
        "--format", choices=["objects", "table"], default="objects", help="the pollers' GET jobs"
    )
    parser.add_argument("--keep", action="store_true", help="leave the jobs queued afterwards")
    parser.add_argument("--backend", choices=["local", "slurmrestd"], default="local")
    parser.add_argument("--code", default="", help="run the server from another checkout (before/after)")
    args = parser.parse_args()

    cluster = DevCluster()
    cluster.up()
    missing = args.jobs - queued(cluster)
    if missing > 0:
        took = fill_queue(cluster, missing)
        print(f"queued {missing} held jobs in {took:.1f} s ({missing / took:.0f} sbatch/s)")
    print(f"queue: {queued(cluster)} pending jobs")
    try:
        options = server_options(cluster, args.backend, args.code)
        if args.rounds > 0:
            cold_vs_raw(cluster, args.rounds, options)
        if args.seconds > 0:
            rpc_storm(cluster, args.clients, args.seconds, args.ttl, args.format, options)
    finally:
        if not args.keep:
            clear_queue(cluster)


if __name__ == "__main__":
    main()
