"""Issue 14: N real Unix users, each running their own Jupyter server with one panel tab open, with
and without the shared site cache (``python -m slurm_lab.site``).

    .venv/bin/python -m benchmarks.bench_users [--users 20] [--small 1] [--seconds 60]
        [--variants poll,push] [--modes own,site] [--per-user 5] [--jobs 10000] [--ttl 3]
        [--interval 10] [--push-interval 10] [--site-ttl 10] [--socket /run/slurm-lab-bench/queue.sock]
        [--site-user root] [--watch 60] [--parallel 4] [--clear]
        [--dir /var/lib/slurm-lab/devcluster-bench] [--port-base 9817]

Runs as root on the benchmarks' own dev cluster (``--dir``, started if needed). It makes the Unix
users slab-u01..slab-uNN when they are missing (and their associations, account ``physics`` as
slab-alice's, when the cluster has accounting), gives each ``--per-user`` held jobs, and tops the
queue up to ``--jobs`` pending jobs with held jobs of slab-alice (common.fill_split); a queue that
has that many already is used as it is. Nothing is cancelled unless ``--clear`` (then only the
bench users' jobs and the background jobs this run added).

Each configuration starts one ``jupyter server`` per user, as that user (tests.helpers.lab_server,
``--parallel`` at a time), cache_ttl ``--ttl`` and push_interval ``--push-interval`` (slurm-lab's
defaults), and measures for ``--seconds``:

- ``poll``: one panel tab per server polling ``GET jobs?scope=mine&format=table`` with its ETag
  every ``--interval`` s, aligned to the wall clock as the panel's fallback poll is (model.ts
  _align): the GETs' latency, 200s and 304s;
- ``push``: one subscriber per server on ``jobs/events`` (scope mine), as the panel when live:
  messages received (nothing changes, so none are expected).

After each window, one job of each user is renamed by root (scontrol update, spread over one
interval), and each tab keeps going until it shows the new name (at most ``--watch`` s): how stale
the queue a tab shows is, each way.

Both: slurmctld's RPCs per minute from sdiag (less the meter's own sdiag), by message type for the
whole cluster, and those of the bench's users (plus the site cache's user's, in mode site);
slurmctld's busy time (sdiag's total_time) per minute; each server's VmRSS after the window (sum
and median) and the site cache's.

Modes: ``own``, every server lists with its own squeue (``--me``: REQUEST_JOB_USER_INFO); ``site``,
``python -m slurm_lab.site --ttl SITE_TTL`` runs as ``--site-user`` (root; or slurm, SlurmUser, as
the README's systemd unit, so its RPCs are told apart from anything else run as root) on
``--socket`` (its folder made 0755, that user's) and every server has ``c.SlurmLab.site_cache``
set to it. Each mode runs with ``--users`` and with ``--small`` users (0: not), so the table shows
how each grows with the number of users.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from slurm_lab.config import SlurmLab
from slurm_lab.devcluster import DevCluster
from slurm_lab.devcluster.config import ACCOUNTS
from slurm_lab.models import JOB_FIELDS
from tests.helpers import SERVER_USER, LabServer, lab_server, slurm_as, stop_process, user_argv, wait_for

from .bench_insight import Rpcs, _stats, default_interval, next_poll, parse_rpcs
from .bench_push import connect
from .common import add_cluster_options, bench_cluster, fill_queue, fill_split, memory_mib, percentile, queued

#: The socket the site cache serves on (its folder is made 0755, root's).
SOCKET = Path("/run/slurm-lab-bench/queue.sock")
#: The site cache's --ttl the README suggests.
SITE_TTL = 5.0
#: Columns of the table, by sdiag message type; the rest is summed as "other".
TYPES = (
    ("JOB_INFO", "REQUEST_JOB_INFO"),
    ("JOB_USER", "REQUEST_JOB_USER_INFO"),
    ("PART", "REQUEST_PARTITION_INFO"),
    ("FED", "REQUEST_FED_INFO"),
    ("BUILD", "REQUEST_BUILD_INFO"),
    ("PING", "REQUEST_PING"),
)
NAME = JOB_FIELDS.index("name")
_TIME_LINE = re.compile(r"^\s+(\S+)\s+\(\s*\d+\)\s+count:\d+\s+ave_time:\d+\s+total_time:(\d+)", re.MULTILINE)


def user_names(count: int) -> list[str]:
    return [f"slab-u{i:02d}" for i in range(1, count + 1)]


# --------------------------------------------------------------------- slurmctld's figures
@dataclass(frozen=True)
class Ctld:
    """slurmctld's RPC counts (by type and by user) and busy time by type (microseconds)."""

    rpcs: Rpcs
    busy_us: Counter[str]

    def __sub__(self, other: Ctld) -> Ctld:
        busy = Counter({k: self.busy_us[k] - other.busy_us[k] for k in self.busy_us})
        return Ctld(self.rpcs - other.rpcs, busy)


class CtldMeter:
    """bench_insight.RpcMeter's counts for slurmctld alone, with sdiag's total_time: one sdiag
    per reading; the readings' own RPCs (calibrated once) are left out."""

    def __init__(self, cluster: DevCluster) -> None:
        self.cluster = cluster
        first = self.take()
        self.own = self.take() - first

    def take(self) -> Ctld:
        text = _stats(self.cluster, ["sdiag"])
        by_type = text.partition("statistics by message type")[2].partition("statistics by user")[0]
        busy = Counter({name: int(us) for name, us in _TIME_LINE.findall(by_type)})
        return Ctld(parse_rpcs(text), busy)

    def between(self, before: Ctld, after: Ctld) -> Ctld:
        d = after - before
        # Counter subtraction drops zero and negative counts: exactly the readings' own.
        rpcs = Rpcs(d.rpcs.by_type - self.own.rpcs.by_type, d.rpcs.by_user - self.own.rpcs.by_user)
        return Ctld(rpcs, d.busy_us - self.own.busy_us)


# --------------------------------------------------------------------- users and the queue
def ensure_users(cluster: DevCluster, names: Sequence[str]) -> None:
    """The Unix users (home, bash), and their associations when the cluster enforces them."""
    made = []
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
            made.append(name)
    if made:
        print(f"made Unix users {made[0]}..{made[-1]} ({len(made)})")
    if not cluster.accounting:
        return
    env = {**os.environ, **cluster.env}
    listed = subprocess.run(["sacctmgr", "-n", "-P", "show", "assoc", "format=user"], env=env,
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    missing = [n for n in names if n not in listed]
    if missing:
        account = ACCOUNTS[0]  # slab-alice's default account in the dev cluster
        subprocess.run(["sacctmgr", "-i", "add", "user", ",".join(missing), f"account={account}",
                        f"defaultaccount={account}"], env=env, capture_output=True, check=True)  # fmt: skip
        print(f"added {len(missing)} users to account {account}")


def own_pending(cluster: DevCluster, user: str) -> int:
    return len(slurm_as(cluster, user, "squeue", "-h", "--me", "-t", "PD", "-o", "%i").split())


def ensure_held(cluster: DevCluster, names: Sequence[str], per_user: int) -> None:
    """At least ``per_user`` held jobs of each user (slurmctld may take a moment to learn the
    associations just added: retried for 30 s)."""
    for name in names:
        deadline = time.monotonic() + 30
        while (missing := per_user - own_pending(cluster, name)) > 0:
            try:
                fill_queue(cluster, missing, user=name)
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def server_arrays(cluster: DevCluster) -> set[str]:
    return set(slurm_as(cluster, SERVER_USER, "squeue", "-h", "--me", "-o", "%F").split())


def ensure_background(cluster: DevCluster, jobs: int) -> set[str]:
    """The queue topped up to ``jobs`` pending jobs with slab-alice's held jobs; returns the
    (array) ids added, for --clear."""
    have = queued(cluster)
    if have >= jobs:
        print(f"queue: {have} pending jobs already there (none added)")
        return set()
    before = server_arrays(cluster)
    took = fill_split(cluster, jobs - have)
    print(f"queue: added {jobs - have} held jobs of {SERVER_USER} in {took:.1f} s")
    return server_arrays(cluster) - before


def clear(cluster: DevCluster, names: Sequence[str], added: set[str]) -> None:
    for name in names:
        subprocess.run(["scancel", "--user", name], env={**os.environ, **cluster.env}, check=False)
    if added:
        slurm_as(cluster, SERVER_USER, "scancel", *sorted(added))


# --------------------------------------------------------------------- the processes
@contextmanager
def site_daemon(cluster: DevCluster, socket_path: Path, ttl: float, user: str = "root") -> Iterator[int]:
    """``python -m slurm_lab.site`` as ``user`` (root or SlurmUser) on ``socket_path``, in a folder
    of that user's (0755); yields its pid."""
    socket_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    socket_path.parent.chmod(0o755)
    shutil.chown(socket_path.parent, user, pwd.getpwnam(user).pw_gid)
    socket_path.unlink(missing_ok=True)  # a stale one: the wait below would find it at once
    fd, name = tempfile.mkstemp(prefix="slurm-lab-site-", suffix=".log")
    log = Path(name)
    argv = [sys.executable, "-m", "slurm_lab.site", "--socket", str(socket_path), "--ttl", str(ttl),
            "--slurm-conf", str(cluster.layout.conf)]  # fmt: skip
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.Popen(user_argv(user, argv, cluster.env), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: socket_path.exists() or proc.poll() is not None, 30, what="the site cache's socket")
        if proc.poll() is not None:
            raise RuntimeError(f"the site cache exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        yield proc.pid
    finally:
        stop_process(proc)
        text = log.read_text(errors="replace")
        if "Traceback" in text or " WARNING " in text or " ERROR " in text:
            print(f"the site cache's log:\n{text[-3000:]}")
        log.unlink()


@contextmanager
def lab_servers(
    cluster: DevCluster, users: Sequence[str], ttl: float, extra_config: str, parallel: int
) -> Iterator[list[LabServer]]:
    """One lab_server per user, started ``parallel`` at a time; all stopped afterwards."""
    with ExitStack() as stack:
        managers: list[AbstractContextManager[LabServer]] = [
            lab_server(cluster, user=user, ttl=ttl, extra_config=extra_config) for user in users
        ]
        servers: list[LabServer] = []
        failure: BaseException | None = None
        started = time.perf_counter()
        with ThreadPoolExecutor(max(1, parallel)) as pool:
            futures = [pool.submit(m.__enter__) for m in managers]
            for manager, future in zip(managers, futures, strict=True):
                try:
                    servers.append(future.result())
                    stack.push(manager)  # its __exit__ stops it
                except Exception as exc:  # the others still start, and are stopped
                    failure = failure or exc
        if failure is not None:
            raise failure
        print(f"  {len(servers)} servers up in {time.perf_counter() - started:.1f} s")
        yield servers


# --------------------------------------------------------------------- the tabs
@dataclass
class Window:
    """What the tabs saw inside the measured window, and of the change made after it."""

    start: float  # wall clock
    end: float
    watch_until: float  # after the window, each tab waits until then for its renamed job
    new_name: str  # the name each user's renamed job gets
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    snapshots_ms: list[float] = field(default_factory=list)  # push: subscribe to snapshot
    messages: int = 0  # push: messages inside the window
    errors: list[str] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)  # user -> one of their jobs (the first listed)
    renamed: dict[str, float] = field(default_factory=dict)  # user -> wall clock of its job's rename
    seen_s: dict[str, float] = field(default_factory=dict)  # user -> seconds until their tab showed it

    def until(self, seen: bool) -> float:
        """When a tab stops: at the window's end, or once it has seen its renamed job."""
        return self.end if seen else self.watch_until

    def listed(self, user: str, rows: Sequence[Sequence[object]]) -> bool:
        """Note a listing the tab got; True when it shows the user's renamed job."""
        if rows:
            self.jobs.setdefault(user, str(rows[0][0]))
        renamed = self.renamed.get(user)
        if renamed is None or not any(r[NAME] == self.new_name for r in rows):
            return False
        self.seen_s[user] = max(0.0, time.time() - renamed)
        return True


async def poll_tab(server: LabServer, window: Window, interval: float, opened_at: float) -> None:
    """The panel polling its user's queue (scope mine, the table format, with the ETag)."""
    async with httpx.AsyncClient(
        base_url=f"{server.url}slurm-lab/api/", headers={"Authorization": f"token {server.token}"}, timeout=60
    ) as api:
        etag: str | None = None
        seen = False

        async def poll() -> None:
            nonlocal etag, seen
            started, clock = time.time(), time.perf_counter()
            headers = {"If-None-Match": etag} if etag else {}
            response = await api.get("jobs", params={"scope": "mine", "format": "table"}, headers=headers)
            took = (time.perf_counter() - clock) * 1000
            if window.start <= started < window.end:
                window.latencies_ms.append(took)
                window.statuses[response.status_code] += 1
            if response.status_code == 200:
                etag = response.headers.get("ETag")
                seen = window.listed(server.user, response.json()["rows"])
            elif response.status_code != 304:
                window.errors.append(f"{server.user}: {response.status_code} {response.text[:200]}")

        await asyncio.sleep(max(0.0, opened_at - time.time()))
        await poll()  # the panel's first tick, on opening
        wait = next_poll(interval)
        while True:
            await asyncio.sleep(wait)
            if time.time() >= window.until(seen):
                return
            wait = next_poll(interval)  # computed as the fetch starts, slept after it (Poll)
            await poll()


async def push_tab(server: LabServer, window: Window, opened_at: float) -> None:
    """The panel live: subscribed to its user's queue on jobs/events until the window ends."""
    await asyncio.sleep(max(0.0, opened_at - time.time()))
    opened = time.perf_counter()
    ws = await connect(server, "mine")
    seen = False
    try:
        while (left := window.until(seen) - time.time()) > 0:
            try:
                message = await asyncio.wait_for(ws.read_message(), left)
            except asyncio.TimeoutError:
                return
            if message is None:
                window.errors.append(f"{server.user}: the socket closed ({ws.close_code} {ws.close_reason})")
                return
            body = orjson.loads(message)
            if body["type"] == "snapshot" and not window.snapshots_ms:
                window.snapshots_ms.append((time.perf_counter() - opened) * 1000)
            elif window.start <= time.time() < window.end:
                window.messages += 1
            seen = window.listed(server.user, body.get("rows") or body.get("upsert") or [])
    finally:
        ws.close()


async def rename(cluster: DevCluster, servers: Sequence[LabServer], window: Window, interval: float) -> None:
    """After the window, one job of each user renamed (by root, as any change outside the
    server), spread over one interval so the renames fall at every phase of the refreshes."""
    for k, server in enumerate(servers):
        await asyncio.sleep(max(0.0, window.end + interval * (0.05 + 0.9 * k / len(servers)) - time.time()))
        job = window.jobs.get(server.user)
        if job is not None:
            await asyncio.to_thread(
                slurm_as, cluster, "root", "scontrol", "update", f"JobId={job}", f"JobName={window.new_name}"
            )
            window.renamed[server.user] = time.time()


async def measure(
    cluster: DevCluster,
    servers: Sequence[LabServer],
    meter: CtldMeter,
    variant: str,
    args: argparse.Namespace,
) -> tuple[Ctld, Window]:
    """slurmctld's figures over ``args.seconds``, with one tab (``variant`` poll or push) per
    server opened in the first second; then, unless ``args.watch`` is 0, how long each tab takes
    to show a change made outside its server.

    The window starts half an interval after the second aligned refresh: a server's first listing
    has a random digest (CliScheduler.queue_table hashes from the second on), so each tab's ETag
    changes once (one 200) on the first refresh after its opening, without any change to the jobs."""
    interval = args.interval
    now = time.time()
    first = now + 5.0 + (interval - (now + 5.0) % interval)  # every tab has opened by then
    start = first + interval * 1.5
    end = start + args.seconds
    window = Window(start, end, end + args.watch, f"renamed-{secrets.token_hex(3)}")
    running = [
        asyncio.ensure_future(
            poll_tab(s, window, interval, now + random.random())
            if variant == "poll"
            else push_tab(s, window, now + random.random())
        )
        for s in servers
    ]
    await asyncio.sleep(window.start - time.time())
    before = await asyncio.to_thread(meter.take)
    await asyncio.sleep(window.end - time.time())
    after = await asyncio.to_thread(meter.take)
    if args.watch > 0:
        running.append(asyncio.ensure_future(rename(cluster, servers, window, interval)))
    await asyncio.gather(*running)
    return meter.between(before, after), window


# --------------------------------------------------------------------- the run
@dataclass
class Row:
    mode: str
    variant: str
    users: int
    seconds: float
    ours: int  # RPCs of the bench's users, plus the site cache user's in mode site
    ctld: Ctld
    window: Window
    rss_mib: list[float]
    site_rss_mib: float | None


def configuration(
    cluster: DevCluster,
    meter: CtldMeter,
    args: argparse.Namespace,
    mode: str,
    users: Sequence[str],
    site_pid: int | None,
) -> list[Row]:
    extra = f"c.SlurmLab.push_interval = {args.push_interval}\n"
    if mode == "site":
        extra += f"c.SlurmLab.site_cache = {str(args.socket)!r}\n"
    print(f"\n== {mode}: {len(users)} user{'s' * (len(users) > 1)} ==")
    rows = []
    with lab_servers(cluster, users, args.ttl, extra, args.parallel) as servers:
        for variant in args.variants:
            ctld, window = asyncio.run(measure(cluster, servers, meter, variant, args))
            rss = [memory_mib(s.pid)[0] for s in servers]
            site_rss = memory_mib(site_pid)[0] if site_pid else None
            counted = set(users) | ({args.site_user} if mode == "site" else set())
            ours = sum(n for user, n in ctld.rpcs.by_user.items() if user in counted)
            row = Row(mode, variant, len(users), args.seconds, ours, ctld, window, rss, site_rss)
            rows.append(row)
            describe(row)
        for server in servers:
            log = server.log_text()
            if "Traceback" in log or "site cache" in log:
                print(f"  {server.user}'s server log:\n{log[-2000:]}")
    return rows


def describe(row: Row) -> None:
    per_min = 60 / row.seconds
    w = row.window
    by_type = ", ".join(f"{k} {v * per_min:.1f}" for k, v in row.ctld.rpcs.by_type.most_common())
    by_user = ", ".join(f"{k} {v * per_min:.1f}" for k, v in row.ctld.rpcs.by_user.most_common())
    print(f"  {row.variant}: slurmctld {row.ctld.rpcs.total() * per_min:.1f} RPC/min ({by_type or 'none'})")
    print(f"  {'':<{len(row.variant)}}  by user: {by_user or 'none'}")
    if row.variant == "poll":
        got = ", ".join(f"{status} x{n}" for status, n in sorted(w.statuses.items()))
        print(f"  {'':<{len(row.variant)}}  GETs {got}")
    else:
        print(
            f"  {'':<{len(row.variant)}}  snapshot p50 {statistics.median(w.snapshots_ms):.0f} ms, "
            f"max {max(w.snapshots_ms):.0f} ms; messages in the window: {w.messages}"
        )
    if w.renamed:
        unseen = sorted(set(w.renamed) - set(w.seen_s))
        print(
            f"  {'':<{len(row.variant)}}  a job renamed outside the server, until its tab shows it: "
            + spread_s(list(w.seen_s.values()))
            + (f"; NOT seen within {w.watch_until - w.end:g} s by {', '.join(unseen)}" if unseen else "")
        )
    for error in w.errors[:10]:
        print(f"  ERROR {error}")


def spread_s(samples: Sequence[float]) -> str:
    if not samples:
        return "none seen"
    return f"p50 {statistics.median(samples):.1f} s, max {max(samples):.1f} s (n={len(samples)})"


def table(rows: Sequence[Row], site_user: str) -> None:
    names = [short for short, _ in TYPES]
    head = (
        f"{'mode':<5} {'tab':<4} {'users':>5} | {'RPC/min':>7} {'ours':>6} "
        + " ".join(f"{n:>8}" for n in names)
        + f" {'other':>6} | {'busy ms/min':>11} | {'GETs':>4} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'seen p50':>8} {'max s':>6} | {'RSS sum':>8} {'median':>7} {'site':>6} MiB"
    )
    print("\n" + head)
    print("-" * len(head))
    for r in rows:
        per_min = 60 / r.seconds
        by_type = r.ctld.rpcs.by_type
        known = sum(by_type[full] for _, full in TYPES)
        lat = r.window.latencies_ms
        gets = (
            f"{len(lat):>4} {statistics.median(lat):7.1f} {percentile(lat, 0.99):7.1f}"
            if lat
            else f"{'-':>4} {'-':>7} {'-':>7}"
        )
        site = f"{r.site_rss_mib:6.0f}" if r.site_rss_mib is not None else f"{'-':>6}"
        seen = list(r.window.seen_s.values())
        fresh = f"{statistics.median(seen):8.1f} {max(seen):6.1f}" if seen else f"{'-':>8} {'-':>6}"
        print(
            f"{r.mode:<5} {r.variant:<4} {r.users:>5} | {r.ctld.rpcs.total() * per_min:7.1f} "
            f"{r.ours * per_min:6.1f} "
            + " ".join(f"{by_type[full] * per_min:8.1f}" for _, full in TYPES)
            + f" {(r.ctld.rpcs.total() - known) * per_min:6.1f} | "
            f"{sum(r.ctld.busy_us.values()) / 1000 * per_min:11.0f} | {gets} | {fresh} | "
            f"{sum(r.rss_mib):8.0f} {statistics.median(r.rss_mib):7.0f} {site} MiB"
        )
    print(
        "RPC/min: all of slurmctld's (sdiag, less its own reading), by type: REQUEST_* (JOB_USER = "
        "JOB_USER_INFO, squeue --me)\nours: those of the bench's users, plus in mode site those of "
        f"{site_user}, the site cache's user"
        + (" (and of anything else run as root meanwhile)" if site_user == "root" else "")
        + "\nbusy: slurmctld's time in every RPC (sdiag total_time), per minute; seen: seconds from a job's "
        "rename (scontrol, after the window) until its user's tab showed it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_cluster_options(parser)
    parser.add_argument("--users", type=int, default=20, help="Unix users, one server each")
    parser.add_argument("--small", type=int, default=1, help="users of the second run of each mode (0: none)")
    parser.add_argument("--seconds", type=float, default=60, help="each measured window")
    parser.add_argument("--variants", default="poll,push", help="tabs: poll, push or both (poll,push)")
    parser.add_argument(
        "--modes", default="own,site", help="own (each its squeue), site (the cache), or both"
    )
    parser.add_argument("--per-user", type=int, default=5, help="held jobs of each user")
    parser.add_argument("--jobs", type=int, default=10_000, help="pending jobs in the queue at least")
    parser.add_argument("--ttl", type=float, default=SlurmLab.cache_ttl.default_value, help="cache_ttl (s)")
    parser.add_argument("--interval", type=float, default=default_interval(), help="tab poll interval (s)")
    parser.add_argument(
        "--push-interval", type=float, default=SlurmLab.push_interval.default_value, help="push_interval (s)"
    )
    parser.add_argument("--site-ttl", type=float, default=SITE_TTL, help="the site cache's --ttl (s)")
    parser.add_argument("--socket", type=Path, default=SOCKET, help="the site cache's socket")
    parser.add_argument(
        "--site-user",
        default="root",
        help="who runs the site cache: root, or SlurmUser (slurm), whose RPCs are then told apart from "
        "anything else run as root",
    )
    parser.add_argument(
        "--watch",
        type=float,
        default=60,
        help="after each window, seconds each tab may take to show a job renamed outside its server (0: skip)",
    )
    parser.add_argument("--parallel", type=int, default=4, help="servers started at a time")
    parser.add_argument("--clear", action="store_true", help="cancel the bench's jobs afterwards")
    args = parser.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    modes = [m for m in args.modes.split(",") if m]
    if os.geteuid() != 0:
        parser.error("run it as root: it makes Unix users and starts servers as them")
    if not set(args.variants) <= {"poll", "push"} or not set(modes) <= {"own", "site"}:
        parser.error("--variants: poll,push; --modes: own,site")

    cluster = bench_cluster(args)
    cluster.up()
    print(f"cluster {cluster.layout.root}, slurmctld port {cluster.ports.ctld}")
    names = user_names(args.users)
    ensure_users(cluster, names)
    ensure_held(cluster, names, args.per_user)
    added = ensure_background(cluster, args.jobs)
    print(
        f"queue: {queued(cluster)} pending jobs, {args.per_user}+ held of each of {names[0]}..{names[-1]}; "
        f"cache_ttl {args.ttl:g} s, push_interval {args.push_interval:g} s, tabs poll every "
        f"{args.interval:g} s (aligned), site cache --ttl {args.site_ttl:g} s; windows of {args.seconds:g} s"
    )
    meter = CtldMeter(cluster)
    sizes = [args.users] + ([args.small] if 0 < args.small < args.users else [])
    rows: list[Row] = []
    try:
        for mode in modes:
            with ExitStack() as stack:
                site_pid = (
                    stack.enter_context(site_daemon(cluster, args.socket, args.site_ttl, args.site_user))
                    if mode == "site"
                    else None
                )
                for size in sizes:
                    rows += configuration(cluster, meter, args, mode, names[:size], site_pid)
    finally:
        if rows:
            table(rows, args.site_user)
        if args.clear:
            clear(cluster, names, added)


if __name__ == "__main__":
    main()
