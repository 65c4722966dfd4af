"""Issue 13's insight views: Slurm RPCs with every view open in several tabs, and GET jobs/{id}
with the pending object (why it waits, its place in line) in a big queue.

    .venv/bin/python -m benchmarks.bench_insight [--seconds 60] [--tabs 5] [--jobs 10000] [--rounds 15]
        [--dir /var/lib/slurm-lab/devcluster-bench] [--port-base 9817] [--pending 50] [--running 4]
        [--interval 10] [--ttl 3] [--scope mine] [--distinct-jobs] [--keep] [--down]
        [--seconds 0 to skip the RPC part] [--jobs 0 to skip the 10k part]

Runs on a dev cluster of its own (``--dir``, started if needed), never the tests' one. Its pending
jobs go to partition ``long``, set DOWN meanwhile (reason PartitionDown): they stay pending, cost
the scheduler nothing, and sprio lists them (it skips held jobs and jobs with a future begin time).

1. Every view open: each simulated JupyterLab tab polls GET jobs?scope=... at the panel's
   interval (wall-clock aligned, as model.ts does), and on each poll the Finished (GET history),
   Nodes (GET nodes) and Account (GET account) views fetch their data, and the details view of a
   pending job (GET jobs/{id}) reloads when its row changed. slurmctld RPCs from ``sdiag`` and
   slurmdbd RPCs from ``sacctmgr show stats`` before/after, per minute, with no tabs (background),
   1 tab and N tabs.
2. GET jobs/{id} for a pending job in a queue of ``--jobs`` jobs: cold (just after the cache window
   expired: scontrol show job + sprio) and warm, against the raw scontrol show job and sprio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from slurm_lab.config import SlurmLab
from slurm_lab.devcluster import DevCluster
from slurm_lab.slurm import argv as build
from tests.helpers import SERVER_USER, LabServer, lab_server, slurm_as

from .common import add_cluster_options, bench_cluster, clear_queue, fill_queue, queued, spread, timed

PLUGIN_SCHEMA = Path(__file__).resolve().parents[1] / "labextension" / "schema" / "plugin.json"
#: Where the pending jobs wait: a partition set DOWN for the run.
PENDING_PARTITION = "long"
#: The history window the Finished view opens with (HistoryView.tsx, WINDOWS[1]).
HISTORY_SINCE = "now-7days"
#: The issue's goal for the queue, start times, priorities, nodes and account together.
GOAL_PER_MINUTE = 12
#: The measurement's own RPCs (sdiag; sacctmgr show stats), subtracted from every window.
OWN_CTLD = ("REQUEST_STATS_INFO",)


def default_interval() -> float:
    """The panel's default poll interval (plugin.json's refreshInterval), in seconds."""
    schema = json.loads(PLUGIN_SCHEMA.read_text())
    return float(schema["properties"]["refreshInterval"]["default"])


# --------------------------------------------------------------------- RPC counts
_RPC_LINE = re.compile(r"^\s+(\S+)\s+\(\s*\d+\)\s+count:(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Rpcs:
    """RPC counts of one daemon, by message type and by user."""

    by_type: Counter[str] = field(default_factory=Counter)
    by_user: Counter[str] = field(default_factory=Counter)

    def __sub__(self, other: Rpcs) -> Rpcs:
        def diff(a: Counter[str], b: Counter[str]) -> Counter[str]:
            return Counter({k: a[k] - b[k] for k in a.keys() | b.keys() if a[k] != b[k]})

        return Rpcs(diff(self.by_type, other.by_type), diff(self.by_user, other.by_user))

    def total(self) -> int:
        return sum(self.by_type.values())


def parse_rpcs(text: str) -> Rpcs:
    """sdiag's or ``sacctmgr show stats``' "Remote Procedure Call statistics" sections."""
    _, _, rest = text.partition("statistics by message type")
    types, _, users = rest.partition("statistics by user")
    users = users.split("Pending RPC")[0]
    return Rpcs(_counts(types), _counts(users))


def _counts(section: str) -> Counter[str]:
    return Counter({name: int(count) for name, count in _RPC_LINE.findall(section)})


@dataclass(frozen=True)
class Snapshot:
    ctld: Rpcs
    dbd: Rpcs | None  # None without accounting

    def __sub__(self, other: Snapshot) -> Snapshot:
        dbd = self.dbd - other.dbd if self.dbd is not None and other.dbd is not None else None
        return Snapshot(self.ctld - other.ctld, dbd)


def _stats(cluster: DevCluster, argv: list[str]) -> str:
    env = {**os.environ, **cluster.env}
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=60).stdout


def snapshot(cluster: DevCluster) -> Snapshot:
    ctld = parse_rpcs(_stats(cluster, ["sdiag"]))
    dbd = parse_rpcs(_stats(cluster, ["sacctmgr", "show", "stats"])) if cluster.accounting else None
    return Snapshot(ctld, dbd)


class RpcMeter:
    """Counts RPCs between two snapshots, less the snapshots' own (calibrated once)."""

    def __init__(self, cluster: DevCluster, server_user: str) -> None:
        self.cluster = cluster
        self.user = server_user
        # Two back to back: the difference is what one snapshot costs each daemon.
        first = snapshot(cluster)
        self.own = snapshot(cluster) - first

    def take(self) -> Snapshot:
        return snapshot(self.cluster)

    def between(self, before: Snapshot, after: Snapshot) -> Snapshot:
        d = after - before
        ctld = Rpcs(d.ctld.by_type - self.own.ctld.by_type, d.ctld.by_user - self.own.ctld.by_user)
        dbd = None
        if d.dbd is not None and self.own.dbd is not None:
            dbd = Rpcs(d.dbd.by_type - self.own.dbd.by_type, d.dbd.by_user - self.own.dbd.by_user)
        # Counter subtraction drops zero and negative counts: exactly the measurement's own.
        return Snapshot(ctld, dbd)


# --------------------------------------------------------------------- the queue
def set_partition(cluster: DevCluster, name: str, state: str) -> None:
    subprocess.run(
        ["scontrol", "update", f"PartitionName={name}", f"State={state}"],
        env={**os.environ, **cluster.env},
        check=True,
        capture_output=True,
    )


def squeue_ids(cluster: DevCluster, *flags: str) -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i", "--user", SERVER_USER, *flags],
        env={**os.environ, **cluster.env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def pending_ids(cluster: DevCluster) -> list[str]:
    """The server user's jobs pending in the DOWN partition, oldest first."""
    ids = squeue_ids(cluster, "-t", "PD", "-p", PENDING_PARTITION)
    return sorted(ids, key=lambda i: int(i) if i.isdigit() else 0)


def ensure_running(cluster: DevCluster, count: int) -> int:
    """At least ``count`` of the server user's jobs running (sleeping an hour in ``debug``)."""
    missing = count - len(squeue_ids(cluster, "-t", "R"))
    for _ in range(max(0, missing)):
        slurm_as(cluster, SERVER_USER, "sbatch", "-p", "debug", "--time=60", "--job-name=bench-run",
                 "--output=/dev/null", "--wrap", "sleep 3600")  # fmt: skip
    deadline = time.monotonic() + 60
    while (running := len(squeue_ids(cluster, "-t", "R"))) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    return running


def ensure_pending(cluster: DevCluster, count: int) -> None:
    """At least ``count`` jobs pending in the DOWN partition (all of them the server user's)."""
    missing = count - len(pending_ids(cluster))
    if missing > 0:
        took = fill_queue(cluster, missing, flags=(f"--partition={PENDING_PARTITION}", "--time=10"))
        print(f"queued {missing} pending jobs in {took:.1f} s ({missing / took:.0f} sbatch/s)")


# --------------------------------------------------------------------- part 1: every view open
@dataclass
class Window:
    """Requests the tabs made inside the measured window, by endpoint and status."""

    start: float  # wall clock
    end: float
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: dict[str, str] = field(default_factory=dict)
    pending_checked: int = 0

    def record(self, view: str, started: float, response: httpx.Response) -> None:
        if self.start <= started < self.end:
            self.requests[(view, response.status_code)] += 1
        if response.status_code >= 400:
            self.errors.setdefault(view, f"{response.status_code} {response.text[:200]}")


def next_poll(interval: float) -> float:
    """Seconds to the tab's next poll: the next wall-clock multiple of the interval, plus up to
    200 ms (QueueModel._align), at least 1 s."""
    return max(1.0, interval - time.time() % interval + random.random() * 0.2)


async def tab(
    server: LabServer, window: Window, interval: float, scope: str, job_id: str, opened_at: float
) -> None:
    """One JupyterLab tab with the panel open on every view: the queue's poll, and the views
    that fetch with it (usePolledFetch: every poll; JobDetails: when its job's row changed)."""
    async with httpx.AsyncClient(
        base_url=f"{server.url}slurm-lab/api/",
        headers={"Authorization": f"token {server.token}"},
        timeout=60,
    ) as api:

        async def get(view: str, path: str, **params: str) -> httpx.Response:
            started = time.time()
            response = await api.get(path, params=params)
            window.record(view, started, response)
            if view == "details" and response.status_code == 200:
                pending = response.json().get("pending") or {}
                assert pending.get("reason") and pending.get("rank"), f"no pending object: {response.text}"
                window.pending_checked += 1
            return response

        def views(changed: bool) -> list[asyncio.Task[httpx.Response]]:
            out = [
                asyncio.create_task(get("history", "history", scope=scope, since=HISTORY_SINCE)),
                asyncio.create_task(get("nodes", "nodes")),
                asyncio.create_task(get("account", "account")),
            ]
            if changed:
                out.append(asyncio.create_task(get("details", f"jobs/{job_id}")))
            return out

        etag: str | None = None
        seen: str | None = None

        async def poll() -> bool:
            """GET jobs with the last ETag; True when the details' job's row changed (JobDetails'
            rowSignature: state, reason, nodes, start, the minute of its run time)."""
            nonlocal etag, seen
            started = time.time()
            headers = {"If-None-Match": etag} if etag else {}
            response = await api.get("jobs", params={"scope": scope}, headers=headers)
            window.record("jobs", started, response)
            if response.status_code != 200:
                return False
            etag = response.headers.get("ETag")
            row: dict[str, object] = next((j for j in response.json()["jobs"] if j["job_id"] == job_id), {})
            minutes = str(row.get("time_used") or "").rsplit(":", 1)[0]
            now = "|".join(str(row.get(k)) for k in ("state", "reason", "nodes", "start_time")) + minutes
            changed, seen = now != seen, now
            return changed

        await asyncio.sleep(max(0.0, opened_at - time.time()))
        # Opening: the Poll's first tick, and each view's fetch on mount.
        tasks = views(changed=True)
        await poll()
        wait = next_poll(interval)
        while True:
            await asyncio.sleep(wait)
            if time.time() >= window.end:
                break
            wait = next_poll(interval)  # computed as the fetch starts, slept after it (Poll)
            tasks += views(await poll())
        await asyncio.gather(*tasks)


async def measure(
    server: LabServer | None,
    meter: RpcMeter,
    tabs: int,
    seconds: float,
    interval: float,
    scope: str,
    jobs: list[str],
) -> tuple[Snapshot, Window]:
    """RPCs in a window of ``seconds`` starting half an interval after a poll, ``tabs`` tabs open."""
    now = time.time()
    first_poll = now + 2.0 + (interval - (now + 2.0) % interval)
    start = first_poll + interval / 2
    window = Window(start, start + seconds)
    running = [
        asyncio.create_task(tab(server, window, interval, scope, jobs[i % len(jobs)], now + random.random()))
        for i in range(tabs)
        if server is not None
    ]
    await asyncio.sleep(start - time.time())
    before = await asyncio.to_thread(meter.take)
    await asyncio.sleep(window.end - time.time())
    after = await asyncio.to_thread(meter.take)
    await asyncio.gather(*running)
    return meter.between(before, after), window


async def cold_costs(
    server: LabServer, meter: RpcMeter, ttl: float, scope: str, job_id: str
) -> dict[str, Snapshot]:
    """RPCs of one request of each view with its cache expired."""
    await asyncio.sleep(ttl + 0.5)
    out = {}
    async with httpx.AsyncClient(
        base_url=f"{server.url}slurm-lab/api/",
        headers={"Authorization": f"token {server.token}"},
        timeout=60,
    ) as api:
        for label, path, params in [
            (f"GET jobs?scope={scope}", "jobs", {"scope": scope}),
            ("GET jobs/{id} (pending)", f"jobs/{job_id}", {}),
            ("GET nodes", "nodes", {}),
            ("GET account", "account", {}),
            (f"GET history?scope={scope}", "history", {"scope": scope, "since": HISTORY_SINCE}),
        ]:
            before = await asyncio.to_thread(meter.take)
            (await api.get(path, params=params)).raise_for_status()
            out[label] = meter.between(before, await asyncio.to_thread(meter.take))
    return out


def _types(rpcs: Rpcs | None) -> str:
    if rpcs is None:
        return "-"
    return ", ".join(f"{k} {v}" for k, v in sorted(rpcs.by_type.items())) or "none"


def every_view(
    cluster: DevCluster, meter: RpcMeter, args: argparse.Namespace, options: dict[str, object]
) -> None:
    set_partition(cluster, PENDING_PARTITION, "DOWN")
    running = ensure_running(cluster, args.running)
    ensure_pending(cluster, args.pending)
    jobs = pending_ids(cluster)[: args.tabs if args.distinct_jobs else 1]
    print(
        f"\n== every view open, {args.scope} scope: poll every {args.interval:g} s (the panel's default), "
        f"cache_ttl {args.ttl:g} s ==\nqueue: {queued(cluster)} pending ({len(pending_ids(cluster))} of "
        f"{SERVER_USER}'s in '{PENDING_PARTITION}', PartitionDown), {running} running; details view on "
        f"{'job ' + jobs[0] if len(jobs) == 1 else 'jobs ' + ','.join(jobs)}"
    )
    per_min = 60 / args.seconds
    with lab_server(cluster, ttl=args.ttl, **options) as server:  # type: ignore[arg-type]
        costs = asyncio.run(cold_costs(server, meter, args.ttl, args.scope, jobs[0]))
        print("one request of each view, its cache expired (RPCs it costs):")
        for label, snap in costs.items():
            print(f"  {label:<30} slurmctld {snap.ctld.total():>2} ({_types(snap.ctld)})")
            print(f"  {'':<30} slurmdbd  {snap.dbd.total() if snap.dbd else 0:>2} ({_types(snap.dbd)})")
        ctld_round = sum(s.ctld.total() for s in costs.values())
        dbd_round = sum(s.dbd.total() for s in costs.values() if s.dbd)
        rounds = 60 / args.interval
        print(
            f"  {'every view once per poll':<30} slurmctld {ctld_round}, slurmdbd {dbd_round} per poll; "
            f"{rounds:g} polls/min -> {ctld_round * rounds:g} + {dbd_round * rounds:g} RPC/min expected"
        )
        sources: dict[str, list[str]] = {}
        for label, snap in costs.items():
            view = label.split()[1].split("?")[0].replace("jobs/{id}", "details")
            for kind in [*snap.ctld.by_type, *(snap.dbd.by_type if snap.dbd else ())]:
                sources.setdefault(kind, []).append(view)

        columns: list[tuple[str, Snapshot, Window | None]] = []
        if args.baseline:
            snap, _ = asyncio.run(measure(None, meter, 0, args.seconds, args.interval, args.scope, jobs))
            columns.append(("no tabs", snap, None))
        for n in sorted({1, args.tabs}):
            snap, window = asyncio.run(
                measure(server, meter, n, args.seconds, args.interval, args.scope, jobs)
            )
            columns.append((f"{n} tab{'s' * (n > 1)}", snap, window))

    for name, _, seen in columns:
        if seen is None:
            continue
        got = Counter[str]()
        for (view, status), k in seen.requests.items():
            got[f"{view} {status}"] += k
        print(
            f"{name} x {args.seconds:g} s: {sum(seen.requests.values())} requests ("
            + ", ".join(f"{k} x{v}" for k, v in sorted(got.items()))
            + f"); pending object checked {seen.pending_checked}x"
        )
        for view, error in seen.errors.items():
            print(f"  ERROR {view}: {error}")

    def table(title: str, pick: Callable[[Snapshot], Rpcs | None]) -> list[float]:
        head = "".join(f"{name:>9}" for name, _, _ in columns)
        print(f"{title:<40}{head}   from (views whose request costs it)")
        kinds = sorted({k for _, s, _ in columns if (r := pick(s)) for k in r.by_type})
        for kind in kinds:
            cells = "".join(
                f"{(r.by_type[kind] if (r := pick(s)) else 0) * per_min:9.1f}" for _, s, _ in columns
            )
            print(f"  {kind:<38}{cells}   {', '.join(sources.get(kind, ['background (daemons)']))}")
        totals = [(r.total() if (r := pick(s)) else 0) * per_min for _, s, _ in columns]
        mine = [(r.by_user[SERVER_USER] if (r := pick(s)) else 0) * per_min for _, s, _ in columns]
        print(f"  {'total':<38}" + "".join(f"{t:9.1f}" for t in totals))
        print(f"  {'from ' + SERVER_USER + ' (the server)':<38}" + "".join(f"{t:9.1f}" for t in mine))
        return mine

    ctld = table("slurmctld RPCs/min (sdiag, by type)", lambda s: s.ctld)
    dbd = table("slurmdbd RPCs/min (sacctmgr show stats)", lambda s: s.dbd) if cluster.accounting else []
    worst = ctld[-1]
    verdict = "met" if worst <= GOAL_PER_MINUTE else f"NOT met ({worst / GOAL_PER_MINUTE:.1f}x the goal)"
    print(
        f"goal <= {GOAL_PER_MINUTE} RPC/min (queue, start times, priorities, nodes, account): slurmctld "
        f"{worst:.1f}/min from the server with {args.tabs} tabs: {verdict}"
        + (f"; plus slurmdbd {dbd[-1]:.1f}/min (history's sacct)" if dbd else "")
    )


# --------------------------------------------------------------------- part 2: pending details at 10k
def raw(cluster: DevCluster, argv: list[str]) -> int:
    """Run a Slurm CLI as bench_queue's raw_squeue does; returns the bytes it printed."""
    out = subprocess.run(argv, env={**os.environ, **cluster.env}, capture_output=True, check=True)
    return len(out.stdout)


def pending_details(cluster: DevCluster, args: argparse.Namespace, options: dict[str, object]) -> None:
    set_partition(cluster, PENDING_PARTITION, "DOWN")
    missing = args.jobs - queued(cluster)
    if missing > 0:
        ensure_pending(cluster, len(pending_ids(cluster)) + missing)
    ids = pending_ids(cluster)
    job_id = ids[len(ids) // 2]  # one in the middle of the line
    sprio_lines = len(subprocess.run(build.sprio(), env={**os.environ, **cluster.env},
                                     capture_output=True, text=True, check=True).stdout.splitlines())  # fmt: skip
    print(
        f"\n== GET jobs/{{id}} of a pending job, queue of {queued(cluster)} pending jobs "
        f"(sprio lists {sprio_lines}), cache_ttl {args.ttl:g} s =="
    )
    scontrol_argv, sprio_argv = build.scontrol_show_job(job_id), build.sprio()
    with lab_server(cluster, ttl=args.ttl, **options) as server, server.client() as api:  # type: ignore[arg-type]

        def get() -> dict[str, object]:
            response = api.get(f"jobs/{job_id}")
            response.raise_for_status()
            body: dict[str, object] = response.json()
            pending = body.get("pending")
            assert isinstance(pending, dict), f"no pending object: {response.text[:300]}"
            assert pending.get("reason") and pending.get("rank"), f"pending without reason/rank: {pending}"
            return body

        first = get()
        print(f"job {job_id}: pending = {json.dumps(first['pending'])}")
        raw_scontrol, raw_sprio, raw_both, cold, warm = [], [], [], [], []
        size = len(api.get(f"jobs/{job_id}").content)
        for _ in range(args.rounds):
            expired = time.monotonic() + args.ttl + 0.25  # both caches (details, priorities) stale
            a = timed(lambda: raw(cluster, scontrol_argv))
            b = timed(lambda: raw(cluster, sprio_argv))
            raw_scontrol.append(a)
            raw_sprio.append(b)
            raw_both.append(a + b)
            time.sleep(max(0.0, expired - time.monotonic()))
            cold.append(timed(get))
            warm += [timed(get) for _ in range(3)]
    print(spread("raw scontrol show job ID", raw_scontrol))
    print(spread("raw sprio (same argv)", raw_sprio))
    print(spread("raw scontrol + sprio (one round)", raw_both))
    print(spread("GET jobs/{id} pending, cold", cold))
    print(spread("GET jobs/{id} pending, warm", warm))
    ratio = statistics.median(cold) / statistics.median(raw_both)
    print(f"{'cold API / raw scontrol+sprio (medians)':<38} {ratio:.2f}x   response {size} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_cluster_options(parser)
    parser.add_argument("--seconds", type=float, default=60, help="each RPC window (0: skip part 1)")
    parser.add_argument("--tabs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=10_000, help="queue size of part 2 (0: skip it)")
    parser.add_argument("--rounds", type=int, default=15, help="cold samples of part 2 (3 warm each)")
    parser.add_argument("--pending", type=int, default=50, help="pending jobs in part 1")
    parser.add_argument("--running", type=int, default=4, help="running jobs in part 1")
    parser.add_argument("--interval", type=float, default=default_interval(), help="tab poll interval (s)")
    parser.add_argument("--ttl", type=float, default=SlurmLab.cache_ttl.default_value, help="cache_ttl (s)")
    parser.add_argument("--scope", choices=["mine", "all"], default="mine", help="the panel's scope")
    parser.add_argument("--distinct-jobs", action="store_true", help="each tab's details on another job")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the no-tab window")
    parser.add_argument("--code", default="", help="run the server from another checkout (before/after)")
    parser.add_argument("--keep", action="store_true", help="leave the jobs queued afterwards")
    parser.add_argument("--down", action="store_true", help="stop the cluster's daemons afterwards")
    args = parser.parse_args()

    cluster = bench_cluster(args)
    cluster.up()
    print(
        f"cluster {cluster.layout.root} (SLURM_CONF={cluster.layout.conf}), slurmctld port {cluster.ports.ctld}"
    )
    options: dict[str, object] = {"env": {"PYTHONPATH": os.path.abspath(args.code)}} if args.code else {}
    try:
        if args.seconds > 0:
            every_view(cluster, RpcMeter(cluster, SERVER_USER), args, options)
        if args.jobs > 0:
            pending_details(cluster, args, options)
    finally:
        if not args.keep:
            clear_queue(cluster)
        set_partition(cluster, PENDING_PARTITION, "UP")
        if args.down:
            cluster.down()


if __name__ == "__main__":
    main()
