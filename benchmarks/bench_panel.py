"""The queue panel in Chromium at 10,000 or 100,000 jobs, the queue pushed over jobs/events (issue
14's goal at 100,000 jobs: first paint <= 500 ms, refresh <= 100 ms).

    .venv/bin/python -m benchmarks.bench_panel [--jobs 10000] [--rounds 5] [--renames 2]
        [--seconds 60] [--keep] [--no-fill] [--purge-wait 420] [--dir DIR] [--port-base N]

On the benchmarks' own dev cluster (``--dir``): held jobs of the server user (common.fill_split,
named bench-panel; none if the queue holds enough already) until ``--jobs`` are active, plus a few
single held jobs to rename (bench-panel-target, of another user: the newest ids, so the top rows
of the table, sorted by job id descending). Only these are cancelled afterwards (with ``--keep``,
only the targets). ``--no-fill``: measure the queue as it is (another benchmark's).
JupyterLab runs as this process's user, so the panel is switched to "All jobs" and holds every
job the cluster lists (the ``--states=all`` listing: finished jobs slurmctld still remembers too;
their number and the count the panel shows are printed).

Each of ``--rounds`` rounds opens a fresh page (new browser context, reset workspace), opens the
panel on "My jobs", then clicks "All jobs":

- first paint: from the arrival of the listing in the page's JavaScript (the WebSocket ``snapshot``
  frame, or the ``GET jobs?scope=all&format=table`` body when polled) to the first painted frame
  whose table holds its rows; for context, from the click to that frame (which adds the server's
  snapshot: squeue of the whole queue, encoding, sending);
- refresh, ``--renames`` times: one target job renamed by its owner (``scontrol update JobId=X
  JobName=renamed-N``); from the arrival of the pushed ``delta`` frame carrying it (at most one
  push interval later) to the painted frame showing the new name in its row.

"Arrival" is the page's first message listener on the socket (installed by wrapping
window.WebSocket before the page loads) or the end of the fetch body read. "Painted" is the task
right after the rendering of the frame following the DOM change (requestAnimationFrame, then a
MessageChannel message). Last, with ``--seconds`` > 0: what one and five open tabs showing all jobs
cost per minute (GETs, pushed messages and bytes, squeue RPCs to slurmctld).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from slurm_lab.devcluster import DevCluster
from tests.helpers import (
    CHROMIUM_ARGS,
    OTHER_USER,
    SERVER_USER,
    jupyterlab,
    rpc_count,
    slurm_as,
    user_argv,
)

from .common import add_cluster_options, bench_cluster, fill_split, records

NAME = "bench-panel"
TARGET = "bench-panel-target"
#: Who owns (and renames) the targets: another user than the queue's, when there is one, so a
#: benchmark clearing the server user's queue meanwhile (bench_scale) leaves them be.
TARGET_USER = OTHER_USER or SERVER_USER
#: Goals of issue 14 at 100,000 jobs, in ms.
FIRST_PAINT_GOAL = 500
REFRESH_GOAL = 100

# Installed before the page loads: records when each jobs GET body and each events frame reached
# the page's JavaScript, and, once a watch is set, when the DOM first showed what it waits for
# and when the frame after that was painted.
PROBE = r"""
(() => {
  const S = (window.__slurm = {requests: 0, responses: [], frames: [], watch: null});
  const realFetch = window.fetch;
  window.fetch = async (...args) => {
    const response = await realFetch(...args);
    const url = String(args[0] instanceof Request ? args[0].url : args[0]);
    if (/\/slurm-lab\/api\/jobs\?/.test(url)) {
      S.requests += 1;
      const text = response.text.bind(response);
      response.text = async () => {
        const body = await text();
        S.responses.push({t: performance.now(), status: response.status, url, size: body.length});
        return body;
      };
    }
    return response;
  };
  const RealWebSocket = window.WebSocket;
  class ProbedWebSocket extends RealWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      if (String(url).includes('/slurm-lab/api/jobs/events')) {
        // Added before the panel sets onmessage: runs first.
        this.addEventListener('message', event => {
          const t = performance.now();
          const data = typeof event.data === 'string' ? event.data : '';
          const m = /"type":"(\w+)","scope":"(\w+)"/.exec(data.slice(0, 100));
          S.frames.push({t, type: m ? m[1] : '?', scope: m ? m[2] : '?', size: data.length,
                         text: data.length <= 262144 ? data : null});
        });
      }
    }
  }
  window.WebSocket = ProbedWebSocket;

  const arrived = w =>
    S.frames.some(f => f.t >= w.since && f.type === 'snapshot' && f.scope === w.scope) ||
    S.responses.some(r => r.t >= w.since && r.url.includes('scope=' + w.scope));
  const shows = w => {
    if (w.kind === 'rows') {
      if (!arrived(w)) return false;
      const grid = document.querySelector('.jp-SlurmLab-panel [role="grid"]');
      return !!grid && !!grid.querySelector('.jp-SlurmLab-row[data-job-id]') &&
        Number(grid.getAttribute('aria-rowcount')) - 1 !== w.before;
    }
    const cell = document.querySelector(`.jp-SlurmLab-row[data-job-id="${w.id}"] .jp-SlurmLab-name`);
    return !!cell && cell.textContent === w.name;
  };
  new MutationObserver(() => {
    const w = S.watch;
    if (!w || w.mutated !== undefined || !shows(w)) return;
    w.mutated = performance.now();
    requestAnimationFrame(() => {
      w.frame = performance.now();
      const channel = new MessageChannel();
      channel.port1.onmessage = () => { w.painted = performance.now(); };
      channel.port2.postMessage(null);
    });
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
})();
"""

SHOW_ALL = """() => {
  const S = window.__slurm;
  const grid = document.querySelector('.jp-SlurmLab-panel [role="grid"]');
  const before = grid ? Number(grid.getAttribute('aria-rowcount')) - 1 : 0;
  const button = [...document.querySelectorAll('.jp-SlurmLab-panel [role="radio"]')]
    .find(b => b.textContent === 'All jobs');
  S.watch = {kind: 'rows', scope: 'all', before, since: performance.now()};
  button.click();
}"""

FIRST_PAINT = """() => {
  const S = window.__slurm, w = S.watch;
  const frame = S.frames.find(f => f.t >= w.since && f.type === 'snapshot' && f.scope === 'all');
  const response = S.responses.find(r => r.t >= w.since && r.url.includes('scope=all'));
  const byFrame = !!frame && (!response || frame.t <= response.t);
  const data = byFrame ? frame : response;
  return {via: byFrame ? 'snapshot' : 'GET', bytes: data.size, since: w.since, arrived: data.t,
          mutated: w.mutated, frame: w.frame, painted: w.painted};
}"""

REFRESH = """() => {
  const S = window.__slurm, w = S.watch;
  const carrying = S.frames.find(f => f.t >= w.since && f.text !== null && f.text.includes(w.name));
  const big = S.frames.find(f => f.t >= w.since && f.text === null && f.t <= w.mutated);
  const polled = S.responses.find(r => r.t >= w.since && r.t <= w.mutated);
  const pushed = carrying && (!big || carrying.t <= big.t) ? carrying : big;
  const data = pushed || (polled && {...polled, type: 'GET', text: null});
  return {via: data ? data.type : 'none', text: data ? data.text : null, bytes: data ? data.size : 0,
          since: w.since, arrived: data ? data.t : NaN, mutated: w.mutated, frame: w.frame,
          painted: w.painted};
}"""

COUNTS = """() => {
  const grid = document.querySelector('.jp-SlurmLab-panel [role="grid"]');
  const count = document.querySelector('.jp-SlurmLab-panel .jp-SlurmLab-count');
  return {rows: grid ? Number(grid.getAttribute('aria-rowcount')) - 1 : 0,
          text: count ? count.textContent : ''};
}"""


def open_panel(page: Page, url: str) -> None:
    """A fresh workspace (the panel starts closed), the panel opened on "My jobs", its data in."""
    page.goto(url + "&reset")
    page.wait_for_selector("li[data-id='slurm-lab-queue']", timeout=120_000)
    page.locator("li[data-id='slurm-lab-queue']").click()
    page.wait_for_function(
        "window.__slurm.frames.some(f => f.type === 'snapshot' && f.scope === 'mine')"
        " || window.__slurm.responses.some(r => r.url.includes('scope=mine'))",
        timeout=120_000,
    )
    page.wait_for_timeout(1000)  # its paint done, the page idle


def show_all(page: Page) -> dict[str, Any]:
    """Click "All jobs"; the first paint's times once the table shows them."""
    page.evaluate(SHOW_ALL)
    page.wait_for_function("window.__slurm.watch.painted !== undefined", timeout=300_000)
    sample: dict[str, Any] = page.evaluate(FIRST_PAINT)
    page.wait_for_timeout(500)
    sample.update(page.evaluate(COUNTS))
    return sample


def rename(page: Page, cluster: DevCluster, job_id: str, name: str) -> dict[str, Any]:
    """Rename ``job_id`` as its owner; the refresh's times once its row shows the name."""
    page.evaluate(
        "([id, name]) => { window.__slurm.watch = {kind: 'name', id, name, since: performance.now()}; }",
        [job_id, name],
    )
    slurm_as(cluster, TARGET_USER, "scontrol", "update", f"JobId={job_id}", f"JobName={name}")
    page.wait_for_function("window.__slurm.watch.painted !== undefined", timeout=120_000)
    sample: dict[str, Any] = page.evaluate(REFRESH)
    if sample["text"]:
        body = json.loads(sample["text"])
        sample["changes"] = f"{len(body.get('upsert', []))} upserted, {len(body.get('remove', []))} removed"
    else:
        sample["changes"] = "a whole listing"  # a snapshot or a GET (the socket was down)
    return sample


# --------------------------------------------------------------------- the queue
def active(cluster: DevCluster) -> int:
    return records(cluster, None)


def settle(cluster: DevCluster, jobs: int, wait: float) -> None:
    """Finished jobs an earlier run left (slurmctld forgets them after MinJobAge) would be rows of
    the panel too: wait up to ``wait`` seconds while more than 1% of ``jobs`` are listed."""
    deadline = time.monotonic() + wait
    while (finished := records(cluster) - active(cluster)) > max(100, jobs // 100):
        if time.monotonic() > deadline:
            print(f"WARNING: {finished:,} finished jobs still listed (rows of the panel too)")
            return
        print(f"waiting for slurmctld to forget {finished:,} finished jobs (MinJobAge)...", flush=True)
        time.sleep(30)


def grow(cluster: DevCluster, jobs: int) -> None:
    """Held jobs of the server user until ``jobs`` are active."""
    if (missing := jobs - active(cluster)) > 0:
        needed = records(cluster) + missing + 1000
        if needed > cluster.max_jobs:
            print(f"raising the bench cluster's MaxJobCount to {needed} (slurmctld restarts; jobs stay)")
            cluster.up(max_jobs=needed)
        took = fill_split(cluster, missing, name=NAME)
        print(f"queued {missing:,} held jobs as {SERVER_USER} in {took:.1f} s")


def submit_targets(cluster: DevCluster, count: int) -> list[str]:
    """Single held jobs of TARGET_USER to rename: the newest ids, the top rows."""
    return [
        slurm_as(cluster, TARGET_USER, "sbatch", "--parsable", "--hold", f"--job-name={TARGET}",
                 "--output=/dev/null", stdin="#!/bin/sh\ntrue\n").strip().split(";")[0]
        for _ in range(count)
    ]  # fmt: skip


def cancel(cluster: DevCluster, user: str, name: str, ids: Sequence[str] = ()) -> None:
    """Cancel ``user``'s jobs named ``name`` (each array as a whole: seconds at 100,000) and
    ``ids`` (renamed since)."""
    listed = subprocess.run(
        user_argv(user, ["squeue", "-h", "--me", f"--name={name}", "-o", "%F"], cluster.env),
        capture_output=True,
        text=True,
    )
    if every := sorted({*listed.stdout.split(), *ids}):
        subprocess.run(user_argv(user, ["scancel", *every], cluster.env), capture_output=True)


# --------------------------------------------------------------------- printing
def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def row(label: str, samples: list[float], goal: int | None = None) -> str:
    if not samples:
        return f"{label:<52}{'n/a':>5}"
    p50, worst = statistics.median(samples), max(samples)
    verdict = ""
    if goal is not None:
        verdict = f"  goal <= {goal} ms: " + (
            "met" if worst <= goal else "p50 met" if p50 <= goal else "missed"
        )
    return f"{label:<52}{len(samples):>5}{p50:>10.1f}{min(samples):>10.1f}{worst:>10.1f}{verdict}"


def report(jobs_label: str, firsts: list[dict[str, Any]], refreshes: list[dict[str, Any]]) -> None:
    pushed = [s for s in refreshes if s["via"] == "delta"]
    lines: list[tuple[str, list[dict[str, Any]], str, str, int | None]] = [
        ("first paint: listing arrived -> painted", firsts, "arrived", "painted", FIRST_PAINT_GOAL),
        ("  of which arrived -> DOM shows the rows", firsts, "arrived", "mutated", None),
        ('  context: click "All jobs" -> painted', firsts, "since", "painted", None),
        ("refresh: delta frame arrived -> painted", pushed, "arrived", "painted", REFRESH_GOAL),
        ("  of which arrived -> DOM shows the name", pushed, "arrived", "mutated", None),
        ("  context: scontrol update -> painted", pushed, "since", "painted", None),
    ]
    print(f"\n{jobs_label}")
    print(f"{'':<52}{'n':>5}{'p50 ms':>10}{'min ms':>10}{'max ms':>10}")
    for label, samples, start, end, goal in lines:
        print(row(label, [s[end] - s[start] for s in samples], goal))
    if len(pushed) < len(refreshes):
        print(f"  ({len(refreshes) - len(pushed)} rename(s) came in a whole listing, not a delta: left out)")


# --------------------------------------------------------------------- tabs
def tabs_cost(browser: Browser, url: str, cluster: DevCluster, seconds: float) -> None:
    for tabs in (1, 5):
        pages = []
        for _ in range(tabs):  # a window each: a background tab would rightly stand by
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.add_init_script(PROBE)
            open_panel(page, url)
            show_all(page)
            pages.append(page)
        probe = "[(S => [S.requests, S.frames.length, S.frames.reduce((n, f) => n + f.size, 0)])(window.__slurm)][0]"
        before = [page.evaluate(probe) for page in pages]
        rpcs = rpc_count(cluster, "REQUEST_JOB_INFO")
        pages[0].wait_for_timeout(seconds * 1000)
        after = [page.evaluate(probe) for page in pages]
        cost = rpc_count(cluster, "REQUEST_JOB_INFO") - rpcs
        gets, frames, chars = (sum(a[i] - b[i] for a, b in zip(after, before, strict=True)) for i in range(3))
        per_min = 60 / seconds
        print(f"{tabs} tab(s) on all jobs: {gets * per_min:5.1f} GETs/min, {frames * per_min:5.1f} pushed "
              f"messages/min ({chars * per_min / 1e6:.2f} MB/min); slurmctld served {cost * per_min:4.1f} "
              f"REQUEST_JOB_INFO/min (to any client)")  # fmt: skip
        for page in pages:
            page.context.close()


# --------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_cluster_options(parser)
    parser.add_argument("--jobs", type=int, default=10_000, help="active jobs in the queue (filled if fewer)")
    parser.add_argument("--rounds", type=int, default=5, help="fresh pages, one first paint each")
    parser.add_argument("--renames", type=int, default=2, help="refreshes measured on each page")
    parser.add_argument("--targets", type=int, default=3, help="held jobs renamed in turn")
    parser.add_argument("--seconds", type=float, default=60, help="tab cost window (0: skip)")
    parser.add_argument("--purge-wait", type=float, default=420, help="longest wait for finished jobs to go")
    parser.add_argument("--keep", action="store_true", help="leave the bench-panel jobs queued afterwards")
    parser.add_argument("--no-fill", action="store_true", help="submit no jobs but the targets")
    args = parser.parse_args()

    cluster = bench_cluster(args)
    cluster.up()
    print(f"cluster {cluster.layout.root}, slurmctld port {cluster.ports.ctld}; jobs of {SERVER_USER}")
    if not args.no_fill:
        settle(cluster, args.jobs, args.purge_wait)
        grow(cluster, args.jobs)
    targets = submit_targets(cluster, args.targets)
    listed = records(cluster)
    print(
        f"queue: {active(cluster):,} active jobs, {listed:,} listed with --states=all; {load()}", flush=True
    )
    firsts: list[dict[str, Any]] = []
    refreshes: list[dict[str, Any]] = []
    shown: set[str] = set()
    renamed = 0
    try:
        with jupyterlab(cluster) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for r in range(args.rounds):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.add_init_script(PROBE)
                open_panel(page, url)
                first = show_all(page)
                firsts.append(first)
                shown.add(f"{first['text']} (aria-rowcount {first['rows'] + 1:,})")
                print(f"round {r + 1}: first paint {first['painted'] - first['arrived']:6.1f} ms after the "
                      f"{first['via']} ({first['bytes'] / 1e6:.1f} MB), {first['painted'] - first['since']:7.1f} "
                      f"ms after the click; the panel shows {first['text']}", flush=True)  # fmt: skip
                for _ in range(args.renames):
                    renamed += 1
                    job_id = targets[renamed % len(targets)]
                    page.wait_for_selector(f".jp-SlurmLab-row[data-job-id='{job_id}']", timeout=60_000)
                    sample = rename(page, cluster, job_id, f"renamed-{renamed}")
                    refreshes.append(sample)
                    print(f"  rename {renamed}: painted {sample['painted'] - sample['arrived']:6.1f} ms after the "
                          f"{sample['via']} ({sample['bytes']:,} chars, {sample['changes']}), "
                          f"{sample['painted'] - sample['since']:7.1f} ms after scontrol update", flush=True)  # fmt: skip
                page.context.close()
            print(f"the panel showed: {'; '.join(sorted(shown))}; {load()}")
            report(f"panel, {listed:,} jobs listed (scope all), Chromium", firsts, refreshes)
            if args.seconds > 0:
                print()
                tabs_cost(browser, url, cluster, args.seconds)
            browser.close()
    finally:
        cancel(cluster, TARGET_USER, TARGET, targets)
        if not args.keep:
            cancel(cluster, SERVER_USER, NAME)
    print(load())


if __name__ == "__main__":
    main()
