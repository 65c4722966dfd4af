"""Authentication, XSRF, hostile input and other users' jobs, on the real server and cluster."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import LabServer, rpc_count, slurm_as

SCRIPT = "#!/bin/sh\ntrue\n"
ROUTES = [
    ("GET", "jobs"), ("POST", "jobs"), ("POST", "jobs/actions"), ("GET", "jobs/1"),
    ("DELETE", "jobs/1"), ("POST", "jobs/1/hold"), ("POST", "jobs/1/release"),
    ("GET", "jobs/1/output"), ("GET", "partitions"), ("GET", "options"), ("GET", "status"), ("GET", "history"),
    ("GET", "openapi.yaml"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_authentication(server: LabServer, method: str, path: str) -> None:
    r = httpx.request(method, f"{server.url}slurm-lab/api/{path}", json={})
    assert r.status_code == 403
    assert "Traceback" not in r.text


def test_xsrf_is_enforced_under_cookie_auth(server: LabServer) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False) as browser:
        browser.get("login")
        xsrf = browser.cookies["_xsrf"]
        r = browser.post("login", data={"password": server.token, "_xsrf": xsrf})
        assert r.status_code in (302, 303)
        assert browser.get("slurm-lab/api/status").status_code == 200  # cookie auth works
        no_xsrf = browser.post("slurm-lab/api/jobs", json={"script": SCRIPT, "options": {"hold": True}})
        assert no_xsrf.status_code == 403
        assert browser.delete("slurm-lab/api/jobs/1").status_code == 403
        ok = browser.post(
            "slurm-lab/api/jobs",
            json={"script": SCRIPT, "options": {"hold": True}},
            headers={"X-XSRFToken": xsrf},
        )
        assert ok.status_code == 201
        job_id = ok.json()["job_id"]
        assert (
            browser.delete(f"slurm-lab/api/jobs/{job_id}", headers={"X-XSRFToken": xsrf}).status_code == 204
        )


HOSTILE_SUBMITS = [
    ({"options": {"job_name": "$(touch {canary})"}}, "options.job_name"),
    ({"options": {"job_name": "`touch {canary}`"}}, "options.job_name"),
    ({"options": {"partition": "debug;touch {canary}"}}, "options.partition"),
    ({"options": {"chdir": "/tmp\ntouch {canary}"}}, "options.chdir"),
    ({"options": {"output": "-o{canary}"}}, "options.output"),
    ({"options": {"export": "ALL,X=$(touch {canary})"}}, "options.export"),
    ({"options": {"wrap": "touch {canary}"}}, "options.wrap"),
    ({"options": {"time": "--wrap=touch {canary}"}}, "options.time"),
    ({"script": "x" * (1 << 20 + 1)}, "script"),
    ({"script": ""}, "script"),
    ({"idempotency_key": "a;b"}, "idempotency_key"),
    ({"extra": 1}, "extra"),
]


def test_hostile_input_is_refused_before_any_process_starts(
    server: LabServer, cluster: DevCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    canary = f"/tmp/slurm-lab-canary-{uuid.uuid4().hex}"
    submits_before = rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB")
    with server.client() as api:
        for patch, field in HOSTILE_SUBMITS:
            body = {"script": SCRIPT, **patch}
            body = _fill(body, canary)
            r = api.post("jobs", json=body)
            assert r.status_code == 400, (field, r.text)
            assert r.json()["reason"] == "invalid_input" and r.json()["message"].startswith(field)
        for bad in ["1;touch%20x", "$(id)", "-1", "1%0A2", "1_", "%60id%60"]:
            for method, path in [("GET", f"jobs/{bad}"), ("DELETE", f"jobs/{bad}"),
                                 ("POST", f"jobs/{bad}/hold"), ("GET", f"jobs/{bad}/output")]:  # fmt: skip
                r = api.request(method, path)
                assert r.status_code == 400 and r.json()["field"] == "job_id", (method, path, r.text)
        r = api.post("jobs/actions", json={"action": "cancel", "job_ids": ["1", "2;id"]})
        assert r.status_code == 400 and r.json()["field"] == "job_ids[1]"
        r = api.post("jobs/actions", json={"action": "suspend", "job_ids": ["1"]})
        assert r.status_code == 400 and r.json()["field"] == "action"
        for query, field in [({"scope": "root"}, "scope"), ({"state": "RUNNING;id"}, "state"),
                             ({"partition": "a b"}, "partition")]:  # fmt: skip
            r = api.get("jobs", params=query)
            assert r.status_code == 400 and r.json()["field"] == field
        r = api.get("jobs/1/output", params={"offset": "-5"})
        assert r.status_code == 400 and r.json()["field"] == "offset"
        assert api.post("jobs", content=b"{not json").status_code == 400
    assert not os.path.exists(canary)
    assert rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB") == submits_before  # nothing reached Slurm


def _fill(value: object, canary: str) -> object:
    if isinstance(value, str):
        return value.replace("{canary}", canary)
    if isinstance(value, dict):
        return {k: _fill(v, canary) for k, v in value.items()}
    return value


def test_other_users_jobs_are_visible_but_not_ours_to_touch(
    server: LabServer, cluster: DevCluster, other_user: str
) -> None:
    theirs = slurm_as(
        cluster, other_user, "sbatch", "--parsable", "--hold", "--job-name=bobs", stdin=SCRIPT
    ).strip()
    with server.client() as api:
        assert theirs not in {j["job_id"] for j in api.get("jobs").json()["jobs"]}
        everyone = {j["job_id"]: j for j in api.get("jobs", params={"scope": "all"}).json()["jobs"]}
        assert everyone[theirs]["user"] == other_user
        r = api.delete(f"jobs/{theirs}")
        assert r.status_code == 403 and r.json()["reason"] == "permission_denied"
        assert "Access/permission denied" in r.json()["message"]
        r = api.post(f"jobs/{theirs}/hold")
        assert r.status_code == 403 and "Invalid user id" in r.json()["message"]
        mine = api.post("jobs", json={"script": SCRIPT, "options": {"hold": True}}).json()["job_id"]
        results = api.post("jobs/actions", json={"action": "cancel", "job_ids": [mine, theirs]}).json()[
            "results"
        ]
        assert [(x["job_id"], x["ok"], x["reason"]) for x in results] == [
            (mine, True, ""),
            (theirs, False, "permission_denied"),
        ]
    assert slurm_as(cluster, other_user, "squeue", "-h", "-j", theirs, "-o", "%T").strip() == "PENDING"
    slurm_as(cluster, other_user, "scancel", theirs)
