"""Push over ``jobs/events``: what a one-job change costs each open tab, and slurmctld's load.

    .venv/bin/python -m benchmarks.bench_push [--tabs 5] [--jobs 10000] [--changes 5] [--seconds 60]
        [--ttl 3] [--interval 10] [--dir ...] [--port-base ...]

On the benchmarks' own cluster (``--dir``), with ``--jobs`` held jobs of the server user:
1. Each of ``--tabs`` WebSocket clients subscribes to ``all``: time to its snapshot, and its size.
2. ``--changes`` times, one job is renamed (``scontrol update JobId=… JobName=…``): the time until
   every tab has the delta that carries it (at most one ``--interval``), and the delta's size.
3. slurmctld RPCs per minute (sdiag) over ``--seconds`` with the tabs open and nothing changing,
   and how many messages the tabs got meanwhile (the goal: none).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import orjson
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from slurm_lab.devcluster import DevCluster
from tests.helpers import SERVER_USER, LabServer, lab_server, slurm_as

from .bench_insight import RpcMeter
from .common import add_cluster_options, bench_cluster, fill_queue, queued


async def connect(server: LabServer, scope: str = "all") -> WebSocketClientConnection:
    url = server.url.replace("http://", "ws://") + "slurm-lab/api/jobs/events"
    request = HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
    ws = await websocket_connect(request, max_message_size=1 << 30)  # a 100k-job snapshot is ~20 MB
    await ws.write_message(orjson.dumps({"subscribe": scope}).decode())
    return ws


async def until(ws: WebSocketClientConnection, kind: str, job_id: str | None = None) -> tuple[float, int]:
    """Seconds until a message of ``kind`` (carrying ``job_id``) arrives, and its size in bytes."""
    started = time.perf_counter()
    while True:
        message = await asyncio.wait_for(ws.read_message(), 120)
        assert isinstance(message, str), f"the socket closed: {ws.close_code} {ws.close_reason}"
        body = orjson.loads(message)
        rows = body.get("upsert", []) if job_id else []
        if body["type"] == kind and (job_id is None or any(r[0] == job_id for r in rows)):
            return time.perf_counter() - started, len(message.encode())


async def measure(server: LabServer, cluster: DevCluster, args: argparse.Namespace, meter: RpcMeter) -> None:
    tabs = await asyncio.gather(*(connect(server) for _ in range(args.tabs)))
    first = await asyncio.gather(*(until(ws, "snapshot") for ws in tabs))
    print(f"snapshot: {statistics.median(t for t, _ in first) * 1000:.0f} ms median to each of {args.tabs} tabs, "
          f"{first[0][1] / 1e6:.2f} MB")  # fmt: skip

    ids = slurm_as(cluster, SERVER_USER, "squeue", "-h", "-o", "%i", "-u", SERVER_USER).split()
    latencies, sizes = [], []
    for n in range(args.changes):
        job = ids[n * 97 % len(ids)]
        await asyncio.sleep(args.interval * 0.37)  # somewhere inside a window
        slurm_as(cluster, SERVER_USER, "scontrol", "update", f"JobId={job}", f"JobName=renamed-{n}")
        got = await asyncio.gather(*(until(ws, "delta", job) for ws in tabs))
        latencies.append(max(t for t, _ in got))
        sizes.append(got[0][1])
    print(f"one-job change -> every tab: median {statistics.median(latencies):.2f} s, max "
          f"{max(latencies):.2f} s (push interval {args.interval:g} s); delta {statistics.median(sizes):.0f} bytes")  # fmt: skip

    received = 0

    async def count(ws: WebSocketClientConnection) -> None:
        nonlocal received
        while await ws.read_message() is not None:
            received += 1

    listeners = [asyncio.ensure_future(count(ws)) for ws in tabs]
    before = meter.take()
    await asyncio.sleep(args.seconds)
    used = meter.between(before, meter.take())
    for task in listeners:
        task.cancel()
    per_minute = used.ctld.total() * 60 / args.seconds
    by_type = ", ".join(f"{k} {v * 60 / args.seconds:.0f}" for k, v in used.ctld.by_type.most_common())
    print(f"{args.tabs} tabs, {args.seconds:g} s, nothing changing: slurmctld {per_minute:.0f} RPC/min "
          f"({by_type}); messages received: {received}")  # fmt: skip
    for ws in tabs:
        ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_cluster_options(parser)
    parser.add_argument("--tabs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--ttl", type=float, default=3, help="the server's cache_ttl (default 3, slurm-lab's)"
    )
    parser.add_argument(
        "--interval", type=float, default=10, help="its push_interval (default 10, slurm-lab's)"
    )
    args = parser.parse_args()
    cluster = bench_cluster(args)
    cluster.up()
    missing = args.jobs - queued(cluster)
    if missing > 0:
        print(f"submitting {missing} held jobs ...")
        fill_queue(cluster, missing)
    print(f"{queued(cluster)} jobs pending")
    meter = RpcMeter(cluster, SERVER_USER)
    with lab_server(
        cluster, ttl=args.ttl, extra_config=f"c.SlurmLab.push_interval = {args.interval}"
    ) as server:
        asyncio.run(measure(server, cluster, args, meter))


if __name__ == "__main__":
    main()
