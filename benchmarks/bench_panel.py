"""The queue panel in Chromium with 10,000 jobs: time from the jobs response to the painted table
(first load, and a refresh with changes), and what one or five open tabs cost per minute.

    .venv/bin/python -m benchmarks.bench_panel [--jobs 10000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess

from playwright.sync_api import Page, sync_playwright

from slurm_lab.devcluster import DevCluster
from tests.helpers import CHROMIUM_ARGS, jupyterlab, rpc_count

from .common import fill_queue, queued

# Installed before the page loads: records when each jobs response body reached the page's
# JavaScript, and when the frame after each following DOM change was painted.
PROBE = """
window.__slurm = {requests: 0, responses: [], paints: []};
const realFetch = window.fetch;
window.fetch = async (...args) => {
  const response = await realFetch(...args);
  const url = String(args[0] instanceof Request ? args[0].url : args[0]);
  if (url.includes('/slurm-lab/api/jobs')) {
    window.__slurm.requests += 1;
    const text = response.text.bind(response);
    response.text = async () => {
      const body = await text();
      window.__slurm.responses.push([performance.now(), response.status]);
      return body;
    };
  }
  return response;
};
new MutationObserver(() => {
  if (!document.querySelector('.jp-SlurmLab-row[data-job-id]')) return;
  requestAnimationFrame(() => requestAnimationFrame(t => window.__slurm.paints.push(performance.now())));
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def paint_after(page: Page, since: int) -> float:
    """ms from the first jobs response (index >= since) with a body to the first paint after it."""
    page.wait_for_function(f"window.__slurm.responses.slice({since}).some(r => r[1] === 200)", timeout=60_000)
    page.wait_for_timeout(1500)
    return float(page.evaluate(
        f"""() => {{
            const end = window.__slurm.responses[{since}][0];
            return window.__slurm.paints.find(p => p >= end) - end;
        }}"""
    ))  # fmt: skip


def open_panel(page: Page, url: str) -> None:
    page.goto(url + "&reset")  # a fresh workspace: the panel starts closed, the click opens it
    page.wait_for_selector("li[data-id='slurm-lab-queue']", timeout=60_000)
    page.locator("li[data-id='slurm-lab-queue']").click()
    page.wait_for_selector(".jp-SlurmLab-row[data-job-id]", state="attached", timeout=60_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cluster = DevCluster()
    cluster.up()
    user = os.environ.get("USER", "root")
    if (missing := args.jobs - queued(cluster)) > 0:
        fill_queue(cluster, missing, user=user)
    print(f"queue: {queued(cluster)} pending jobs")
    env = {**os.environ, **cluster.env}
    with jupyterlab(cluster) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        first, refresh = [], []
        for _ in range(args.rounds):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(PROBE)
            open_panel(page, url)
            first.append(paint_after(page, 0))
            # A change: 50 jobs cancelled, then a refresh.
            ids = subprocess.run(["squeue", "-h", "-t", "PD", "-o", "%i"], env=env, capture_output=True,
                                 text=True).stdout.split()[:50]  # fmt: skip
            subprocess.run(["scancel", *ids], env=env, capture_output=True)
            since = int(page.evaluate("window.__slurm.responses.length"))
            page.wait_for_timeout(3100)  # past the server's cache TTL
            page.locator(".jp-SlurmLab-panel").get_by_role("button", name="Refresh").click()
            refresh.append(paint_after(page, since))
            page.close()
        print(
            f"first paint, {args.jobs} jobs:   p50 {statistics.median(first):6.1f} ms  max {max(first):6.1f} ms  (n={len(first)})"
        )
        print(
            f"refresh with changes:     p50 {statistics.median(refresh):6.1f} ms  max {max(refresh):6.1f} ms  (n={len(refresh)})"
        )

        for tabs in (1, 5):
            pages = []
            for _ in range(tabs):  # a window each: a background tab would rightly stand by
                page = browser.new_context().new_page()
                page.add_init_script(PROBE)
                open_panel(page, url)
                pages.append(page)
            counts = [int(p.evaluate("window.__slurm.requests")) for p in pages]
            rpcs = rpc_count(cluster, "REQUEST_JOB_INFO")
            pages[0].wait_for_timeout(args.seconds * 1000)
            requests = sum(
                int(p.evaluate("window.__slurm.requests")) - c for p, c in zip(pages, counts, strict=True)
            )
            cost = rpc_count(cluster, "REQUEST_JOB_INFO") - rpcs
            per_min = 60 / args.seconds
            print(f"{tabs} tab(s): {requests * per_min:5.1f} requests/min to the server, "
                  f"{cost * per_min:4.1f} squeue RPCs/min to slurmctld")  # fmt: skip
            for p in pages:
                p.context.close()
        browser.close()
    subprocess.run(["scancel", "--name=bench"], env=env, capture_output=True)


if __name__ == "__main__":
    main()
