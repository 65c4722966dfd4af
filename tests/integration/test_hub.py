"""slurm-lab behind a real JupyterHub: each user's server, through the hub's proxy, with each user's
token; jobs run as that user; nobody reaches another's server or cancels another's jobs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import CHROMIUM_ARGS, ROOTFUL, slurm_as, wait_for
from tests.hubtools import MISSING_KEY, Hub, running_hub

pytestmark = pytest.mark.skipif(not ROOTFUL, reason="the hub spawns servers as other Unix users")


@pytest.fixture(scope="module")
def hub(cluster: DevCluster) -> Iterator[Hub]:
    with running_hub(cluster) as running:
        for user in ("slab-alice", "slab-bob", "carol"):
            running.start_server(user)
        yield running


@pytest.mark.parametrize("user", ["slab-alice", "slab-bob"])
def test_each_user_lists_submits_and_cancels_their_own_jobs(hub: Hub, cluster: DevCluster, user: str) -> None:
    token = hub.user_token(user)
    with hub.slurm_lab(user, token) as api:
        status = api.get("status").json()
        assert status["user"] == user and status["identity_error"] is None
        out = Path("/tmp") / f"slurm-lab-hub-{user}.out"
        out.unlink(missing_ok=True)
        r = api.post(
            "jobs", json={"script": f"#!/bin/sh\nid -un > {out}\n", "options": {"job_name": "hub-run"}}
        )
        assert r.status_code == 201, r.text
        ran = r.json()["job_id"]
        assert wait_for(lambda: out.exists() and out.read_text().strip(), what="the job's output") == user
        out.unlink()

        r = api.post("jobs", json={"script": "#!/bin/sh\ntrue\n", "options": {"hold": True}})
        held = r.json()["job_id"]
        mine = {j["job_id"]: j for j in api.get("jobs").json()["jobs"]}
        assert mine[held]["user"] == user and {j["user"] for j in mine.values()} == {user}
        assert ran in mine or ran in {j["job_id"] for j in api.get("history").json()["jobs"]}
        assert api.delete(f"jobs/{held}").status_code == 204
        state = wait_for(
            lambda: slurm_as(cluster, "root", "squeue", "-h", "-t", "all", "-j", held, "-o", "%T").strip(),
            what="the cancelled job",
        )
        assert state == "CANCELLED"


def test_a_user_cannot_reach_anothers_server(hub: Hub) -> None:
    alice = hub.user_token("slab-alice")
    with hub.slurm_lab("slab-bob", alice) as api:
        for response in (api.get("jobs"), api.post("jobs", json={"script": "#!/bin/sh\ntrue\n"})):
            assert response.status_code == 403, response.text
    with hub.slurm_lab("slab-alice", "not-a-token") as api:
        assert api.get("jobs").status_code in (302, 401, 403)


def test_a_user_cannot_cancel_anothers_job_even_through_slurm(hub: Hub, cluster: DevCluster) -> None:
    bobs = slurm_as(cluster, "slab-bob", "sbatch", "--parsable", "--hold", "--wrap", "true").strip()
    try:
        with hub.slurm_lab("slab-alice", hub.user_token("slab-alice")) as api:
            r = api.delete(f"jobs/{bobs}")
            assert r.status_code == 403, r.text
            assert r.json()["reason"] == "permission_denied"
            assert "Access/permission denied" in r.json()["message"]
            r = api.post(f"jobs/{bobs}/release")
            assert r.status_code == 403 and r.json()["reason"] == "permission_denied"
        state = slurm_as(cluster, "root", "squeue", "-h", "-j", bobs, "-o", "%T").strip()
        assert state == "PENDING"
    finally:
        slurm_as(cluster, "root", "scancel", bobs)


def test_hub_user_without_an_account_gets_a_clear_error(hub: Hub) -> None:
    with hub.slurm_lab("carol", hub.user_token("carol")) as api:
        status = api.get("status").json()
        assert status["user"] == "slab-bob"
        r = api.get("jobs")
        assert r.status_code == 403 and r.json()["reason"] == "unknown_user"
        assert (
            "JupyterHub user 'carol' is not the Unix account this server runs as ('slab-bob')"
            in r.json()["message"]
        )
        assert api.post("jobs", json={"script": "#!/bin/sh\ntrue\n"}).status_code == 403


def test_the_panel_shows_carol_why_there_is_no_queue(hub: Hub, tmp_path: Path) -> None:
    """In Chromium, logged in through the hub's own login page: the panel says what is wrong."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            page.goto(f"{hub.url}hub/login")
            page.fill("input[name=username]", "carol")
            page.fill("input[name=password]", hub.password)
            page.click("input[type=submit], button[type=submit]")
            page.goto(f"{hub.url}user/carol/lab?reset")
            page.locator("li[data-id='slurm-lab-queue']").click(timeout=60_000)
            banner = page.locator(".jp-SlurmLab-banner")
            banner.wait_for(timeout=30_000)
            assert (
                "JupyterHub user 'carol' is not the Unix account this server runs as" in banner.inner_text()
            )
            assert page.locator(".jp-SlurmLab-row[data-job-id]").count() == 0
            # README's docs/panel-hub-identity.png is this picture (SLURM_LAB_SHOTS=docs keeps it there).
            shots = Path(os.environ.get("SLURM_LAB_SHOTS", tmp_path))
            page.locator(".jp-SlurmLab-widget").screenshot(path=str(shots / "panel-hub-identity.png"))
        finally:
            browser.close()


def test_a_pod_without_its_munge_key_fails_the_spawn_naming_the_file(hub: Hub) -> None:
    assert hub.spawn("dave") is False
    assert f"slurm-lab-entrypoint: error: munge key {MISSING_KEY} is missing" in hub.log_tail(50_000)
    with hub.api() as api:
        progress = api.get("users/dave/server/progress").text
    assert '"failed": true' in progress and "Spawn failed" in progress, progress
