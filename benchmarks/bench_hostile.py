"""Server memory and latency under seeded hostile requests (the fuzz's generator), on a real queue.

    .venv/bin/python -m benchmarks.bench_hostile --jobs 2000 --requests 10000

Prints the server's RSS when idle, after a warm-up, after the run and 10 s later, the status
codes, latency percentiles, and slurmctld RPCs per request. Run as root (a second user's jobs).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import subprocess
import time
from urllib.parse import quote

from slurm_lab.devcluster import DevCluster
from tests.helpers import OTHER_USER, SERVER_USER, lab_server, rss_mib, slurm_as
from tests.hostile_requests import Request, Target, hostile_requests

from .common import clear_queue, fill_queue, summary


def _rpcs(cluster: DevCluster) -> int:
    out = subprocess.run(["sdiag"], env={**os.environ, **cluster.env}, capture_output=True, text=True).stdout
    return sum(
        int(line.rsplit("count:", 1)[1].split()[0])
        for line in out.splitlines()
        if "count:" in line and "(" in line
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="held jobs in the queue")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--code", default="", help="run the server from another checkout (for before/after)")
    args = parser.parse_args()
    cluster = DevCluster()
    cluster.up()
    clear_queue(cluster)
    print(f"queue: {args.jobs} held jobs filled in {fill_queue(cluster, args.jobs):.1f} s")
    env = {"PYTHONPATH": os.path.abspath(args.code)} if args.code else None
    with lab_server(cluster, ttl=3.0, env=env) as server, server.client() as api:
        held = {"script": "#!/bin/sh\ntrue\n", "options": {"hold": True}}
        own = [api.post("jobs", json=held).json()["job_id"] for _ in range(5)]
        theirs = (
            [slurm_as(cluster, OTHER_USER, "sbatch", "--parsable", "--hold", "--wrap=true").strip()]
            if OTHER_USER
            else []
        )
        requests = hostile_requests(
            args.seed, args.requests, Target(mine=own, others=theirs, protected=own[:2])
        )
        time.sleep(1)
        idle = rss_mib(server.pid)
        clients = [server.client() for _ in range(args.clients)]

        def send(i: int) -> tuple[int, float]:
            req: Request = requests[i]
            started = time.perf_counter()
            r = clients[i % args.clients].request(
                req.method, quote(req.path, safe="/"), params=req.params, content=req.body
            )
            return r.status_code, (time.perf_counter() - started) * 1000

        for i in range(200):
            send(i)
        warm, rpcs_before, started = rss_mib(server.pid), _rpcs(cluster), time.perf_counter()
        peak = warm
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            results = []
            for n, result in enumerate(pool.map(send, range(200, len(requests)))):
                results.append(result)
                if n % 500 == 0:
                    peak = max(peak, rss_mib(server.pid))
        seconds, rpcs = time.perf_counter() - started, _rpcs(cluster) - rpcs_before
        after = rss_mib(server.pid)
        time.sleep(10)
        settled = rss_mib(server.pid)
        for c in clients:
            c.close()
        statuses = dict(sorted(collections.Counter(s for s, _ in results).items()))
        print(f"requests: {len(results)} in {seconds:.1f} s from {args.clients} clients; statuses {statuses}")
        print(summary("latency, all hostile requests", [ms for _, ms in results]))
        print(f"slurmctld RPCs: {rpcs} ({rpcs / len(results):.2f} per request)")
        print(f"server RSS MiB: idle {idle:.0f}, warm {warm:.0f}, peak {max(peak, after):.0f}, after {after:.0f}, "
              f"10 s later {settled:.0f}  (growth {settled - warm:+.0f} MiB)")  # fmt: skip
        if theirs:
            slurm_as(cluster, OTHER_USER, "scancel", *theirs)
    clear_queue(cluster, SERVER_USER)


if __name__ == "__main__":
    main()
