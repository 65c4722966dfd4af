"""Take the README screenshots in a real JupyterLab (Debian's Chromium via Playwright).

    .venv/bin/python docs/screenshots.py      (needs ./dev setup and `apt-get install chromium`)

Runs JupyterLab against the dev cluster, executes a %%slurm cell and the queue manager in a
notebook, and writes docs/*.png.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from slurm_lab.devcluster import DevCluster
from tests.helpers import free_port

DOCS = Path(__file__).parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
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


def main() -> None:
    cluster = DevCluster()
    cluster.up()
    root = Path(tempfile.mkdtemp(prefix="slurm-lab-shots-"))
    port, token = free_port(), secrets.token_hex(8)
    config = root / "jupyter_server_config.py"
    config.write_text(f"c.SlurmLab.slurm_conf = {str(cluster.layout.conf)!r}\n")
    env = {**os.environ, **cluster.env, "JUPYTER_CONFIG_DIR": str(root)}
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", f"--port={port}", "--no-browser", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/lab?token={token}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/status?token={token}").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector(".jp-LauncherCard", timeout=60_000)
            page.locator(".jp-LauncherCard[title*='Python 3']").first.click()
            page.wait_for_selector(".jp-Notebook .cm-content", timeout=60_000)
            time.sleep(2)
            no_news = page.get_by_role("button", name="No")
            if no_news.count():
                no_news.first.click()
            run_cells(page)
            page.locator(".jp-Notebook .jp-Cell").nth(1).screenshot(path=str(DOCS / "cell-running.png"))
            page.wait_for_selector("text=now in your namespace", timeout=60_000)
            page.locator(".jp-Notebook .jp-Cell").nth(1).screenshot(path=str(DOCS / "cell-done.png"))
            page.locator(".jp-Notebook .jp-Cell").nth(2).screenshot(path=str(DOCS / "queue-manager.png"))
            browser.close()
    finally:
        lab.terminate()
        lab.wait(15)


if __name__ == "__main__":
    main()
