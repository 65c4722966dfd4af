"""A node dies under running jobs (its slurmd stopped, the real path: "Not responding", then DOWN
after SlurmdTimeout): through the API, the job that may not be requeued ends NODE_FAIL, the one that
may is requeued and waits, a job pinned to the node says why it waits, the node says it is down and
why, and the rest of the cluster and the queue keep working. Then the node comes back idle.

On a 4-node cluster of its own (no accounting: not needed here), so no one else's jobs fill the
node and no one else's ``devcluster up`` restarts its slurmd halfway."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from slurm_lab.devcluster import DevCluster, DevClusterError
from tests.helpers import lab_server, wait_for
from tests.own_cluster import own_cluster

SLEEP = "#!/bin/sh\nsleep 300\n"
NODE = "c2"  # not c1, where the job that must keep running goes


@pytest.fixture(scope="module")
def own() -> Iterator[DevCluster]:
    with own_cluster("devcluster-nodefail", 18817, accounting=False) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def api(own: DevCluster) -> Iterator[httpx.Client]:
    with lab_server(own) as srv, srv.client() as client:
        yield client


def submit(api: httpx.Client, **options: object) -> str:
    r = api.post("jobs", json={"script": SLEEP, "options": {"output": "/dev/null", **options}})
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


def listed(api: httpx.Client) -> dict[str, dict]:
    r = api.get("jobs")
    assert r.status_code == 200 and r.json()["stale"] is False, r.text
    return {j["job_id"]: j for j in r.json()["jobs"]}


def node(api: httpx.Client, name: str = NODE) -> dict:
    r = api.get("nodes")
    assert r.status_code == 200, r.text
    return next(n for n in r.json()["nodes"] if n["name"] == name)


def test_a_node_killed_under_running_jobs(api: httpx.Client, own: DevCluster) -> None:
    jobs: list[str] = []
    try:
        lost = submit(api, nodelist=NODE, no_requeue=True, job_name="lost")
        requeued = submit(api, nodelist=NODE, requeue=True, job_name="requeued")
        elsewhere = submit(api, nodelist="c1", job_name="elsewhere")
        jobs += [lost, requeued, elsewhere]
        wait_for(
            lambda: all(listed(api)[j]["state"] == "RUNNING" for j in jobs),
            timeout=30,
            what="three jobs running",
        )
        own.node_down(NODE)  # its slurmd stopped, as a crash; slurmstepd and the jobs live on
        pinned = submit(api, nodelist=NODE, job_name="pinned")
        jobs.append(pinned)

        def down() -> dict | None:
            n = node(api)
            return n if n["state"].startswith("down") else None

        # SlurmdTimeout=10, and each ping waits out MessageTimeout: DOWN after ~30 s.
        c2 = wait_for(down, timeout=60, interval=0.5, what=f"{NODE} to be DOWN")
        assert "not_responding" in c2["state"] and c2["reason"].startswith("Not responding"), c2
        assert node(api, "c1")["state"] in ("mixed", "allocated", "idle")

        ended = wait_for(
            lambda: (j := listed(api)[lost])["state"] == "NODE_FAIL" and j, timeout=15, what="NODE_FAIL"
        )
        assert ended["reason"] == "NodeDown" and ended["end_time"]
        details = api.get(f"jobs/{lost}").json()
        assert details["fields"]["JobState"] == "NODE_FAIL" and details["pending"] is None

        # The rest of the cluster: the job elsewhere runs on, a new one starts there (and its
        # submit runs the scheduler, which gives the waiting jobs their new reasons).
        assert listed(api)[elsewhere]["state"] == "RUNNING"
        fresh = submit(api, exclude=NODE, time="1")
        jobs.append(fresh)
        wait_for(lambda: listed(api)[fresh]["state"] == "RUNNING", timeout=15, what="a new job elsewhere")

        # Requeued: pending again, not before the last run's credential expired (BeginTime, ~2 min).
        def waiting() -> dict | None:
            body = api.get(f"jobs/{requeued}").json()
            return body if (body["pending"] or {}).get("reason") == "BeginTime" else None

        again = wait_for(waiting, timeout=60, interval=0.5, what="the requeued job to wait for BeginTime")
        assert again["fields"]["JobState"] == "PENDING" and again["fields"]["Restarts"] == "1"
        assert "requeued" in again["pending"]["explanation"] and again["pending"]["expected_start"]
        queue = listed(api)
        assert queue[requeued]["state"] == "PENDING" and queue[requeued]["reason"] == "BeginTime"
        assert "requeued" in api.get("jobs").json()["explanations"]["BeginTime"]["text"]

        def unavailable() -> dict | None:  # the scheduler's next pass says so (Resources before)
            body = api.get(f"jobs/{pinned}").json()["pending"]
            return body if body["reason"].startswith("ReqNodeNotAvail") else None

        waits = wait_for(unavailable, timeout=30, interval=0.5, what="the pinned job to wait for its node")
        assert waits["explanation"].endswith(f"(UnavailableNodes:{NODE})"), waits
    finally:
        # Back first: the old runs still on the node (its slurmstepds outlived slurmd) are killed
        # when it registers, as long as their jobs are still pending (requeued) or ended there.
        try:
            own.node_up(NODE)
        except DevClusterError:
            own.up()
        finally:
            if jobs:
                api.post("jobs/actions", json={"action": "cancel", "job_ids": jobs})
    back = wait_for(lambda: (n := node(api))["state"] == "idle" and n, timeout=30, what=f"{NODE} idle again")
    assert back["reason"] is None and back["cpus_allocated"] == 0

    def all_ended() -> bool:
        states = [j["state"] for job_id, j in listed(api).items() if job_id in jobs]
        return not {"RUNNING", "PENDING", "COMPLETING"} & set(states)

    wait_for(all_ended, timeout=15, what="every job of the test ended")
    spool = own.layout.node_spool(NODE)
    wait_for(lambda: not any(spool.glob("job*")), timeout=15, what=f"no job left running on {NODE}")
