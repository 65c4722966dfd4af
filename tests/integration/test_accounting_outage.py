"""slurmdbd stopped under a running server: history says accounting is unavailable (503), the queue
and a finished job's details keep answering (efficiency null), the account view answers from
slurmctld's cache of the associations; all back within one cache window once slurmdbd is."""

from __future__ import annotations

import time

import httpx
import pytest

from slurm_lab.devcluster import DevCluster, accounting
from slurm_lab.slurm import argv
from tests.helpers import LabServer, slurm_as, wait_for

QUICK = "#!/bin/sh\ntrue\n"
WINDOW = 1.1  # past the servers' cache_ttl (1 s, tests/helpers.py)


def submit(api: httpx.Client, **options: object) -> str:
    r = api.post("jobs", json={"script": QUICK, "options": {"output": "/dev/null", **options}})
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


def test_slurmdbd_stopped_then_back(server: LabServer, cluster: DevCluster) -> None:
    if not cluster.accounting:
        pytest.skip("needs the dev cluster with accounting (slurmdbd)")
    cli = server.backend != "slurmrestd"  # slurmrestd 22.05 here: no sacct, no efficiency, no account
    since = {"since": "now-1hours"}
    with server.client() as api:
        done = submit(api)

        def finished() -> dict | None:
            body = api.get(f"jobs/{done}").json()
            complete = body["fields"].get("JobState") == "COMPLETED"
            return body if complete and (body["efficiency"] is not None or not cli) else None

        wait_for(finished, timeout=30, what="the job to finish with its efficiency in accounting")

        def history() -> set[str]:
            r = api.get("history", params=since)
            assert r.status_code == 200, r.text
            return {j["job_id"] for j in r.json()["jobs"]}

        # sacct's time window skips a job until slurmctld has sent slurmdbd its eligible time (~3 s).
        wait_for(lambda: done in history(), timeout=30, what="the job in the history")
        held = submit(api, hold=True)
        cluster.down(("slurmdbd",))
        try:
            time.sleep(WINDOW)
            r = api.get("history", params=since)
            if cli:
                assert r.status_code == 503, r.text
                assert r.headers["Retry-After"] == "2"
                body = r.json()
                assert body["reason"] == "accounting_unavailable"
                assert body["message"] == (
                    "Slurm accounting (slurmdbd) unavailable: Problem talking to the database: Connection refused"
                )
            else:  # from the controller's memory, as always on this backend
                assert r.status_code == 200 and r.json()["source"] == "controller"
            # The queue, a submit and the controller's status do not depend on slurmdbd.
            for _ in range(2):  # and a second window: nothing marked the controller down
                queue = api.get("jobs")
                assert queue.status_code == 200 and queue.json()["stale"] is False, queue.text
                assert held in {j["job_id"] for j in queue.json()["jobs"]}
                time.sleep(WINDOW)
            another = submit(api, hold=True)
            assert api.get("status").json()["controller"] == "up"
            details = api.get(f"jobs/{done}")
            assert details.status_code == 200, details.text
            assert details.json()["fields"]["JobState"] == "COMPLETED"
            assert details.json()["efficiency"] is None  # sacct cannot answer: the rest stands
            # What GET account runs answers from slurmctld's cache of the associations (the
            # server's own answer may come from its slow cache: checked here for real).
            assert "UserName=" in slurm_as(cluster, server.user, *argv.assoc_mgr(server.user))
            assert slurm_as(cluster, server.user, *argv.sshare(server.user)).strip()
            during = api.get("account")
            assert during.status_code == (200 if cli else 501), during.text
            if cli:
                assert {a["account"] for a in during.json()["associations"]} == set(accounting.ACCOUNTS)
            assert "Traceback" not in server.log_text()
        finally:
            cluster.up()
        try:
            time.sleep(WINDOW)  # the failures were remembered for one cache window, no longer
            r = api.get("history", params=since)
            assert r.status_code == 200, r.text
            assert done in {j["job_id"] for j in r.json()["jobs"]}
            if cli:
                assert r.json()["source"] == "accounting"
                assert api.get(f"jobs/{done}").json()["efficiency"] is not None
        finally:
            api.post("jobs/actions", json={"action": "cancel", "job_ids": [held, another]})
