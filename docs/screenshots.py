"""Take the README screenshots in a real JupyterLab (Debian's Chromium via Playwright).

    .venv/bin/python docs/screenshots.py      (after ./dev setup; chromium comes with it)

Runs JupyterLab against the dev cluster, executes a %%slurm cell and the queue manager in a
notebook, opens the queue panel in the light and dark themes, and writes docs/*.png.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from slurm_lab.devcluster import DevCluster
from tests.helpers import CHROMIUM_ARGS, jupyterlab

DOCS = Path(__file__).parent
CELLS = [
    "%load_ext slurm_lab\nimport pandas as pd\ndf = pd.DataFrame({'x': range(1000)})",
    "%%slurm -p debug -t 5 --in df --out summary\nimport time\nfor i in range(6):\n    print('step', i, flush=True)\n    time.sleep(1.5)\nsummary = df.describe()",
    "%slurm queue",
]


def run_cells(page: Page) -> None:
    for source in CELLS:
        cell = page.locator(".jp-Notebook .jp-Cell").last
        cell.locator(".cm-content").click()
        page.keyboard.insert_text(source)
        page.keyboard.press("Shift+Enter")
        time.sleep(1.5)


NAMES = ["train-model", "preprocess", "sweep", "<b>not bold</b>", "analysis", "quick-burn"]
#: 150 MiB and 8 s of CPU with 1.5 GB asked: a finished job with a right-sizing suggestion.
BURN = (
    b"#!/bin/sh\n/usr/bin/python3 -c 'import time\nb = bytearray(150 << 20)\nfor i in range(0, len(b), 4096):\n"
    b"    b[i] = 1\nt = time.process_time()\nwhile time.process_time() - t < 8:\n    pass\n'\n"
)


def cancel_demo_jobs(env: dict[str, str]) -> None:
    listing = subprocess.run(
        ["squeue", "-h", "-o", "%A\x1f%j"], env=env, capture_output=True, text=True
    ).stdout
    ids = [line.split("\x1f")[0] for line in listing.splitlines() if line.split("\x1f")[-1] in NAMES]
    if ids:
        subprocess.run(["scancel", *sorted(set(ids))], env=env, check=False)


def queue_some_jobs(cluster: DevCluster) -> None:
    env = {**cluster.env, "PATH": "/usr/bin:/bin"}
    cancel_demo_jobs(env)
    for name, args in [("train-model", ["--hold"]), ("preprocess", []), ("sweep", ["--hold", "--array=0-9"]),
                       ("<b>not bold</b>", ["--hold"]), ("analysis", ["-p", "long", "--hold"])]:  # fmt: skip
        subprocess.run(["sbatch", f"--job-name={name}", "--output=/dev/null", *args], input=b"#!/bin/sh\nsleep 600\n",
                       env=env, check=True, capture_output=True)  # fmt: skip
    subprocess.run(["sbatch", "--job-name=quick-burn", "--output=/dev/null", "--mem=1500M", "--time=30"], input=BURN,
                   env=env, check=True, capture_output=True)  # fmt: skip


def row_named(page: Page, name: str):  # type: ignore[no-untyped-def]
    """The side panel's row of the demo job called ``name`` (finished ones wait for accounting)."""
    row = page.locator(".jp-SlurmLab-panel.jp-SlurmLab-sidebar .jp-SlurmLab-row", has_text=name).first
    row.wait_for(timeout=60_000)
    return row


def shoot_tab(page: Page, tab: str, ready: str, png: str) -> None:
    """Open the panel's ``tab``, wait for ``ready`` (a selector), and take ``png``."""
    page.get_by_role("tab", name=tab).first.click()
    page.locator(ready).first.wait_for(timeout=60_000)
    time.sleep(1)
    page.screenshot(path=str(DOCS / png))


def main() -> None:
    cluster = DevCluster()
    cluster.up()
    queue_some_jobs(cluster)
    with jupyterlab(cluster) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector(".jp-LauncherCard", timeout=60_000)
        no_news = page.get_by_role("button", name="No")
        if no_news.count():
            no_news.first.click()
        page.locator(".jp-LauncherCard[title*='Python 3']").first.click()
        page.wait_for_selector(".jp-Notebook .cm-content", timeout=60_000)
        time.sleep(2)
        run_cells(page)
        page.locator(".jp-Notebook .jp-Cell").nth(1).screenshot(path=str(DOCS / "cell-running.png"))
        page.wait_for_selector("text=now in your namespace", timeout=60_000)
        page.locator(".jp-Notebook .jp-Cell").nth(1).screenshot(path=str(DOCS / "cell-done.png"))
        page.locator(".jp-Notebook .jp-Cell").nth(2).screenshot(path=str(DOCS / "queue-manager.png"))
        page.locator("li[data-id='slurm-lab-queue']").click()
        page.wait_for_selector(".jp-SlurmLab-row[data-job-id]", timeout=30_000)
        page.locator(".jp-SlurmLab-row[data-job-id]").nth(1).click()
        time.sleep(1)
        page.screenshot(path=str(DOCS / "panel-light.png"))
        row_named(page, "train-model").dblclick()
        page.wait_for_selector("text=Why it waits", timeout=30_000)
        time.sleep(1)
        page.screenshot(path=str(DOCS / "pending-details.png"))
        row_named(page, "quick-burn").dblclick()
        page.wait_for_selector("text=Efficiency", timeout=90_000)
        time.sleep(1)
        page.screenshot(path=str(DOCS / "efficiency.png"))
        page.get_by_role("tab", name="Finished").click()
        finished = page.locator(".jp-SlurmLab-history tr[data-job-id]", has_text="quick-burn").first
        finished.wait_for(timeout=60_000)
        finished.locator("td").first.click()  # the job id: a click does not scroll the table sideways
        page.wait_for_selector("text=Resubmit right-sized", timeout=30_000)
        time.sleep(1)
        page.screenshot(path=str(DOCS / "history-light.png"))
        page.get_by_role("button", name="Resubmit right-sized…").click()
        page.wait_for_selector(".jp-Dialog textarea", timeout=30_000)
        time.sleep(1)
        page.locator(".jp-Dialog .jp-Dialog-content").screenshot(path=str(DOCS / "resubmit-dialog.png"))
        page.locator(".jp-Dialog").get_by_role("button", name="Cancel").click()
        shoot_tab(page, "Account", "table[aria-label='Limits']", "account-light.png")
        shoot_tab(page, "Nodes", "tr[data-node]", "nodes-light.png")
        page.get_by_role("tab", name="Queue", exact=True).click()
        page.get_by_role("button", name="Open in main area").click()
        page.wait_for_selector("#slurm-lab-queue-main .jp-SlurmLab-row[data-job-id]", timeout=30_000)
        page.locator("#slurm-lab-queue-main .jp-SlurmLab-row[data-job-id]").nth(0).dblclick()
        time.sleep(2)
        page.screenshot(path=str(DOCS / "panel-main.png"))
        page.locator("#slurm-lab-queue-main").get_by_role("button", name="Submit…", exact=True).click()
        page.wait_for_selector(".jp-Dialog textarea", timeout=30_000)
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_label("Batch script").fill(
            "#!/bin/bash\n#SBATCH --job-name=train\n#SBATCH --time=2:00:00\npython train.py\n"
        )
        dialog.get_by_label("Time limit").fill("4:00:00")
        dialog.get_by_label("Memory").fill("16G")
        time.sleep(1)
        dialog.locator(".jp-Dialog-content").screenshot(path=str(DOCS / "submit-dialog.png"))
        dialog.get_by_role("button", name="Cancel").click()
        base, token = url.split("/lab?token=")
        httpx.put(
            f"{base}/lab/api/settings/@jupyterlab/apputils-extension:themes",
            json={"raw": '{"theme": "JupyterLab Dark"}'},
            headers={"Authorization": f"token {token}"},
        ).raise_for_status()
        page.reload()
        page.wait_for_selector(".jp-SlurmLab-row[data-job-id]", state="attached", timeout=60_000)
        page.locator(".jp-SlurmLab-row[data-job-id]").nth(1).click()
        time.sleep(2)
        page.screenshot(path=str(DOCS / "panel-dark.png"))
        shoot_tab(page, "Nodes", "tr[data-node]", "nodes-dark.png")
        shoot_tab(page, "Account", "table[aria-label='Limits']", "account-dark.png")
        shoot_tab(page, "Finished", ".jp-SlurmLab-history tr:has-text('quick-burn')", "history-dark.png")
        browser.close()
    cancel_demo_jobs({**cluster.env, "PATH": "/usr/bin:/bin"})


if __name__ == "__main__":
    main()
