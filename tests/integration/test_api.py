"""The REST API against a real Jupyter server and the real dev cluster."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import httpx
import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import LabServer, rpc_count, wait_for

SCRIPT = "#!/bin/sh\necho hello from slurm-lab\n"
JOB_FIELDS = {
    "job_id", "array_job_id", "array_task_id", "name", "user", "account", "partition", "state",
    "reason", "submit_time", "start_time", "time_used", "time_limit", "num_nodes", "num_cpus",
    "nodes", "work_dir", "stdout_path", "stderr_path",
}  # fmt: skip


@pytest.fixture
def api(server: LabServer) -> httpx.Client:
    with server.client() as client:
        yield client


def submit(api: httpx.Client, script: str = SCRIPT, **options: object) -> str:
    r = api.post("jobs", json={"script": script, "options": options})
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]
    assert r.headers["Location"].endswith(f"/slurm-lab/api/jobs/{job_id}")
    return str(job_id)


def find(api: httpx.Client, job_id: str, scope: str = "mine") -> dict | None:
    return next(
        (j for j in api.get("jobs", params={"scope": scope}).json()["jobs"] if j["job_id"] == job_id), None
    )


def state_of(api: httpx.Client, job_id: str) -> str | None:
    job = find(api, job_id)
    return job["state"] if job else None


def test_status(api: httpx.Client, server: LabServer) -> None:
    body = api.get("status").json()
    assert body["controller"] == "up" and body["user"] == server.user
    assert body["cluster_name"] == "devcluster" and body["slurm_version"].startswith("22.05")
    assert body["backend"] == server.backend and body["version"]


def test_submit_list_details_cancel(api: httpx.Client, server: LabServer) -> None:
    job_id = submit(api, hold=True, job_name="<img src=x onerror=alert(1)>", partition="long", time="10:00")
    job = find(api, job_id)
    assert job is not None and set(job) >= JOB_FIELDS
    assert job["name"] == "<img src=x onerror=alert(1)>" and job["user"] == server.user
    assert (job["state"], job["reason"], job["partition"]) == ("PENDING", "JobHeldUser", "long")
    assert job["time_limit"] == "10:00"
    details = api.get(f"jobs/{job_id}").json()
    assert details["source"] == "controller" and details["fields"]["JobState"] == "PENDING"
    assert details["fields"]["Partition"] == "long"
    assert api.delete(f"jobs/{job_id}").status_code == 204
    assert state_of(api, job_id) == "CANCELLED"
    assert api.delete(f"jobs/{job_id}").status_code == 204  # idempotent


def test_hold_and_release(api: httpx.Client) -> None:
    job_id = submit(api, begin="now+1hour")
    r = api.post(f"jobs/{job_id}/hold")
    assert r.status_code == 200 and r.json()["ok"] is True
    assert find(api, job_id)["reason"] == "JobHeldUser"
    assert api.post(f"jobs/{job_id}/release").status_code == 200
    assert find(api, job_id)["reason"] != "JobHeldUser"
    api.delete(f"jobs/{job_id}")


def test_batch_actions(api: httpx.Client) -> None:
    ids = [submit(api, hold=True) for _ in range(3)]
    r = api.post("jobs/actions", json={"action": "cancel", "job_ids": ids})
    assert r.status_code == 200
    assert [x["ok"] for x in r.json()["results"]] == [True] * 3
    assert {state_of(api, j) for j in ids} == {"CANCELLED"}


def test_job_runs_and_output_is_tailed_by_offset(api: httpx.Client) -> None:
    script = "#!/bin/sh\nfor i in 1 2 3 4 5; do echo line $i; sleep 0.4; done\necho oops >&2\n"
    job_id = submit(api, script, job_name="tail-me", error="slurm-%j.err")
    offset, text = 0, ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = api.get(f"jobs/{job_id}/output", params={"offset": offset})
        if r.status_code == 200:
            chunk = r.json()
            assert chunk["offset"] == offset
            text += chunk["data"]
            offset = chunk["next_offset"]
            if "line 5" in text:
                break
        else:
            assert r.json()["reason"] == "output_not_available"
        time.sleep(0.3)
    assert text == "".join(f"line {i}\n" for i in range(1, 6))
    wait_for(lambda: state_of(api, job_id) == "COMPLETED", what="job to complete")
    err = api.get(f"jobs/{job_id}/output", params={"stream": "stderr"}).json()
    assert err["data"] == "oops\n"


def test_etag_gives_304_until_the_queue_changes(api: httpx.Client) -> None:
    first = api.get("jobs")
    etag = first.headers["ETag"]
    assert api.get("jobs", headers={"If-None-Match": etag}).status_code == 304
    job_id = submit(api, hold=True)
    changed = api.get("jobs", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    api.delete(f"jobs/{job_id}")


def test_filters(api: httpx.Client) -> None:
    held = submit(api, hold=True, partition="long")
    body = api.get("jobs", params={"state": "PD", "partition": "long"}).json()
    assert body["stale"] is False and body["fetched_at"].endswith("Z")
    assert held in {j["job_id"] for j in body["jobs"]}
    assert {(j["state"], j["partition"]) for j in body["jobs"]} == {("PENDING", "long")}
    assert held not in {j["job_id"] for j in api.get("jobs", params={"state": "RUNNING"}).json()["jobs"]}
    api.delete(f"jobs/{held}")


def test_array_jobs(api: httpx.Client) -> None:
    job_id = submit(api, hold=True, array="0-9")
    job = find(api, f"{job_id}_[0-9]")
    assert job is not None and job["array_job_id"] == int(job_id) and job["array_task_id"] == "0-9"
    assert api.post(f"jobs/{job_id}_3/release").status_code == 200
    api.delete(f"jobs/{job_id}")


def test_idempotent_submit_never_makes_a_second_job(api: httpx.Client, server: LabServer) -> None:
    key = f"test-{uuid.uuid4()}"
    body = {"script": SCRIPT, "options": {"hold": True}, "idempotency_key": key}

    def post(_: int) -> httpx.Response:
        with server.client() as client:
            return client.post("jobs", json=body)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    assert {r.status_code for r in responses} == {201}
    ids = {r.json()["job_id"] for r in responses}
    assert len(ids) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 7
    (job_id,) = ids
    mine = api.get("jobs").json()["jobs"]
    assert sum(j["job_id"] == job_id for j in mine) == 1
    conflict = api.post("jobs", json={**body, "script": SCRIPT + "# changed\n"})
    assert conflict.status_code == 409 and conflict.json()["reason"] == "idempotency_conflict"
    api.delete(f"jobs/{job_id}")


def test_partitions(api: httpx.Client) -> None:
    parts = {p["name"]: p for p in api.get("partitions").json()["partitions"]}
    assert parts["debug"]["is_default"] and not parts["long"]["is_default"]
    assert parts["long"]["max_time"] == "7-00:00:00" and parts["debug"]["total_cpus"] >= 1


def test_history_without_accounting_says_where_it_comes_from(api: httpx.Client, server: LabServer) -> None:
    job_id = submit(api, job_name="history-me")
    wait_for(lambda: state_of(api, job_id) == "COMPLETED", what="job to complete")
    body = wait_for(
        lambda: (
            (b := api.get("history", params={"since": "now-1hours"}).json())
            and any(j["job_id"] == job_id for j in b["jobs"])
            and b
        ),
        what="job in history",
    )
    if server.backend == "slurmrestd":  # slurmrestd 22.05 serves no accounting here
        assert body["source"] == "controller" and "not read through slurmrestd" in body["message"]
    else:  # the dev cluster has slurmdbd; the jobcomp fallback is tested with accounting off
        assert body["source"] == "accounting" and body["message"] == ""
    job = next(j for j in body["jobs"] if j["job_id"] == job_id)
    assert job["state"] == "COMPLETED" and job["name"] == "history-me"


def test_test_only_answers_when_and_where_and_makes_no_job(
    api: httpx.Client, server: LabServer, cluster: DevCluster
) -> None:
    submits = rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB")
    body = {"script": SCRIPT, "options": {"partition": "long", "time": "10"}, "test_only": True}
    started = time.monotonic()
    r = api.post("jobs", json=body)
    if server.backend == "slurmrestd":
        assert r.status_code == 501 and r.json()["reason"] == "not_supported"
        return
    assert time.monotonic() - started < 2
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["test_only"] is True and answer["partition"] == "long" and answer["processors"] == 1
    assert answer["nodes"] and answer["expected_start"].startswith("20")
    refused = api.post("jobs", json={**body, "options": {"partition": "long", "time": "8-00:00:00"}})
    assert refused.status_code == 400 and refused.json()["reason"] == "slurm_rejected"
    assert "Requested time limit is invalid" in refused.json()["message"]
    hostile = api.post("jobs", json={**body, "options": {"job_name": "$(touch /tmp/x)"}})
    assert hostile.status_code == 400 and hostile.json()["field"] == "options.job_name"
    bad = api.post("jobs", json={**body, "test_only": "yes"})
    assert bad.status_code == 400 and bad.json()["field"] == "test_only"
    assert rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB") == submits  # no job was made


def test_unknown_job(api: httpx.Client) -> None:
    for r in (api.get("jobs/99999999"), api.post("jobs/99999999/hold")):
        assert r.status_code == 404 and r.json()["reason"] == "job_not_found"


def test_slurm_rejections_are_400_with_slurms_reason(api: httpx.Client) -> None:
    r = api.post("jobs", json={"script": SCRIPT, "options": {"partition": "nope"}})
    assert r.status_code == 400 and r.json() == {
        "message": "Invalid partition name specified",
        "reason": "slurm_rejected",
    }
    r = api.post("jobs", json={"script": SCRIPT, "options": {"partition": "long", "time": "8-00:00:00"}})
    assert r.status_code == 400 and "Requested time limit is invalid" in r.json()["message"]
    r = api.post("jobs", json={"script": "echo no shebang\n"})
    assert r.status_code == 400 and "#!" in r.json()["message"]


def test_many_concurrent_readers_share_one_squeue(
    api: httpx.Client, server: LabServer, cluster: DevCluster
) -> None:
    """20 concurrent clients inside one TTL window cost slurmctld at most one job-info RPC per scope."""

    time.sleep(1.1)  # let the previous window expire
    before = rpc_count(cluster, "REQUEST_JOB_INFO")

    def poll(_: int) -> int:
        with server.client() as client:
            return client.get("jobs", params={"scope": "all"}).status_code

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        assert set(pool.map(poll, range(20))) == {200}
    assert rpc_count(cluster, "REQUEST_JOB_INFO") - before <= 1


def test_actions_on_a_collapsed_pending_row_leave_running_tasks_alone(api: httpx.Client) -> None:
    """The queue shows 64_0, 64_1 running and 64_[2-9] pending: acting on that row acts on exactly it."""
    # Two GPU nodes with two GPUs each: exactly two tasks run, whatever else is free.
    array = submit(
        api, "#!/bin/sh\nsleep 120\n", array="0-9", output="/dev/null", partition="gpu", gres="gpu:2"
    )

    def rows() -> dict[str, dict]:
        return {j["job_id"]: j for j in api.get("jobs").json()["jobs"] if j["array_job_id"] == int(array)}

    listing = wait_for(lambda: (r := rows()) and sum(j["state"] == "RUNNING" for j in r.values()) == 2 and r)
    (pending,) = [job_id for job_id in listing if job_id.startswith(f"{array}_[")]
    running = sorted(job_id for job_id, j in listing.items() if j["state"] == "RUNNING")
    details = api.get(f"jobs/{pending}")
    assert details.status_code == 200 and details.json()["fields"]["JobState"] == "PENDING"
    r = api.post("jobs/actions", json={"action": "hold", "job_ids": [pending]})
    assert r.json()["results"] == [{"job_id": pending, "ok": True, "message": "", "reason": ""}]
    after = rows()
    assert all(after[t]["state"] == "RUNNING" and after[t]["reason"] is None for t in running)
    # Held as one row (scontrol) or task by task (slurmrestd takes no bracketed ids): all of them.
    held = [j for j in after.values() if j["state"] == "PENDING"]
    assert len(held) in (1, 8) and all("JobHeld" in (j["reason"] or "") for j in held)
    assert api.delete(f"jobs/{pending}").status_code == 204
    after = wait_for(lambda: (r := rows()) and all(j["state"] != "PENDING" for j in r.values()) and r)
    assert [after[t]["state"] for t in running] == ["RUNNING", "RUNNING"]  # still running
    api.delete(f"jobs/{array}")
