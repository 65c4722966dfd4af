"""Another user's jobs built to trip the server, ids beyond 32 bits, a frozen controller, munge
down: one test per way these broke the API, on the real cluster, on both backends."""

from __future__ import annotations

import concurrent.futures
import os
import pwd
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import (
    SERVER_USER,
    LabServer,
    paused,
    refreshed,
    rpc_count,
    run_as,
    slurm_as,
    squeue_ids,
    wait_for,
)

HELD = "#!/bin/sh\ntrue\n"


@pytest.fixture
def api(server: LabServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def bob_dir(other_user: str) -> Iterator[str]:
    """A folder of the other user's, readable by everyone (as a shared /scratch would be)."""
    path = tempfile.mkdtemp(prefix="slurm-lab-bob-")
    entry = pwd.getpwnam(other_user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def held(api: httpx.Client, **options: object) -> str:
    r = api.post("jobs", json={"script": HELD, "options": {"hold": True, **options}})
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


def bobs_job(cluster: DevCluster, bob: str, *flags: str) -> str:
    return slurm_as(cluster, bob, "sbatch", "--parsable", "--hold", *flags, "--wrap=true").strip()


def state(cluster: DevCluster, job_id: str) -> str:
    return slurm_as(cluster, SERVER_USER, "squeue", "-h", "--states=all", "-j", job_id, "-o", "%T %r").strip()


def ready(api: httpx.Client) -> None:
    """Wait until the server answers fresh data again (after a fault, for the next test)."""
    wait_for(lambda: api.get("jobs").status_code == 200, timeout=60, what="a fresh listing")


# ------------------------------------------------------------------ 1. ids beyond 32 bits
def test_ids_beyond_32_bits_never_reach_slurm_or_another_job(api: httpx.Client, cluster: DevCluster) -> None:
    mine = held(api)
    before = state(cluster, mine)
    aliases = [str(int(mine) + k * 2**32) for k in (1, 2, 1000)] + [f"{mine}_4000001", "0", f"0{mine}"]
    for alias in aliases:
        for method, path in [("GET", f"jobs/{alias}"), ("DELETE", f"jobs/{alias}"),
                             ("POST", f"jobs/{alias}/hold"), ("POST", f"jobs/{alias}/release"),
                             ("GET", f"jobs/{alias}/output")]:  # fmt: skip
            r = api.request(method, path)
            assert r.status_code == 400 and r.json()["field"] == "job_id", (method, path, r.text)
        r = api.post("jobs/actions", json={"action": "cancel", "job_ids": [alias]})
        assert r.status_code == 400 and r.json()["field"] == "job_ids[0]"
    assert state(cluster, mine) == before == "PENDING JobHeldUser"  # untouched
    # The largest real id is accepted and simply not found.
    assert api.get("jobs/4294967293").status_code == 404
    api.delete(f"jobs/{mine}")


# ------------------------------------------------------------------ 2. retried submit across a freeze
def test_a_submit_retried_across_a_controller_freeze_makes_one_job(
    api: httpx.Client, cluster: DevCluster
) -> None:
    name, key = f"freeze-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    body = {"script": HELD, "options": {"hold": True, "job_name": name}, "idempotency_key": key}
    ready(api)
    with paused(cluster, "slurmctld"):
        lost = api.post("jobs", json=body)  # sbatch times out after MessageTimeout (10 s)
        assert lost.status_code == 503, lost.text
        assert lost.json()["outcome"] == "unknown" and "same idempotency_key" in lost.json()["message"]
        started = time.monotonic()
        again = api.post("jobs", json=body)  # still frozen: the lookup cannot run, nothing is sent
        assert again.status_code == 503 and time.monotonic() - started < 3
    # Thawed, slurmctld creates the job from the request it had queued.
    (job_id,) = wait_for(lambda: squeue_ids(cluster, SERVER_USER, name), what="the frozen submit's job")
    retry = api.post("jobs", json=body)
    assert retry.status_code == 201, retry.text
    assert retry.json()["job_id"] == job_id and retry.headers["Idempotent-Replayed"] == "true"
    assert api.post("jobs", json=body).json()["job_id"] == job_id
    assert squeue_ids(cluster, SERVER_USER, name) == [job_id]  # one job, never two
    api.delete(f"jobs/{job_id}")


# ------------------------------------------------------------------ 3. hostile names and paths
def test_another_users_job_names_and_paths_cannot_break_the_queue(
    api: httpx.Client, cluster: DevCluster, other_user: str, bob_dir: str
) -> None:
    weird_out = f"{bob_dir}/o\x1fut\x1e.txt"
    name_rs = bobs_job(cluster, other_user, "--job-name=a\x1eb")
    name_fs = bobs_job(
        cluster, other_user, "--job-name=x\x1fy\nz", f"--chdir={bob_dir}", f"--output={weird_out}"
    )
    try:
        r = api.get("jobs", params={"scope": "all"})
        assert r.status_code == 200 and r.json()["stale"] is False
        jobs = {j["job_id"]: j for j in r.json()["jobs"]}
        assert jobs[name_rs]["name"] == "a\x1eb" and jobs[name_rs]["user"] == other_user
        assert jobs[name_fs]["name"] == "x\x1fy\nz" and jobs[name_fs]["work_dir"] == bob_dir
        assert jobs[name_fs]["stdout_path"] == weird_out and jobs[name_fs]["state"] == "PENDING"
        assert all(j["user"] and j["state"] for j in jobs.values())  # no shifted fields anywhere
        assert api.get("jobs").status_code == 200  # "mine" is unaffected as well
    finally:
        slurm_as(cluster, other_user, "scancel", name_rs, name_fs)


# ------------------------------------------------------------------ 4. a FIFO as output
def test_a_fifo_as_output_cannot_hang_the_server(
    api: httpx.Client, server: LabServer, cluster: DevCluster, other_user: str, bob_dir: str
) -> None:
    fifo = f"{bob_dir}/fifo"
    run_as(other_user, "mkfifo", "-m", "0644", fifo)
    theirs = bobs_job(cluster, other_user, f"--output={fifo}")
    mine = held(api, output="/tmp/slurm-lab-mine-%j.out")
    try:
        with server.client() as other, concurrent.futures.ThreadPoolExecutor(16) as pool:
            started = time.monotonic()
            answers = list(pool.map(lambda _: other.get(f"jobs/{theirs}/output"), range(16)))
            assert time.monotonic() - started < 5
        for r in answers:
            assert r.status_code == 403 and r.json()["reason"] == "output_refused", r.text
            assert "FIFO" in r.json()["message"]
        # Every other read still works (the held job has no file yet: a clean 404).
        r = api.get(f"jobs/{mine}/output")
        assert r.status_code == 404 and r.json()["reason"] == "output_not_available"
    finally:
        slurm_as(cluster, other_user, "scancel", theirs)
        api.delete(f"jobs/{mine}")


# ------------------------------------------------------------------ 5. someone else's file as output
def test_another_users_job_cannot_make_the_server_read_your_files(
    api: httpx.Client, server: LabServer, cluster: DevCluster, other_user: str
) -> None:
    home = pwd.getpwnam(SERVER_USER).pw_dir
    secret = f"{home}/.slurm-lab-secret-{uuid.uuid4().hex[:8]}"
    run_as(SERVER_USER, "sh", "-c", f"umask 077; echo TOP-SECRET > {secret}")
    targets = [secret, "/proc/self/environ", "/proc/self/cmdline"]
    theirs = [bobs_job(cluster, other_user, f"--output={t}") for t in targets]
    mine = held(api, output="/proc/self/environ")  # even the viewer's own job: never /proc
    try:
        for job_id in [*theirs, mine]:
            r = api.get(f"jobs/{job_id}/output")
            assert r.status_code == 403 and r.json()["reason"] == "output_refused", r.text
            assert "TOP-SECRET" not in r.text and server.token not in r.text and "JUPYTER" not in r.text
        assert "not to the job's user" in api.get(f"jobs/{theirs[0]}/output").json()["message"]
    finally:
        slurm_as(cluster, other_user, "scancel", *theirs)
        api.delete(f"jobs/{mine}")
        os.unlink(secret)


# ------------------------------------------------------------------ 6. unusual paths
def test_unusual_output_paths_get_a_clear_4xx(
    api: httpx.Client, server: LabServer, cluster: DevCluster, other_user: str, bob_dir: str
) -> None:
    run_as(other_user, "ln", "-s", "loop", f"{bob_dir}/loop")
    run_as(
        other_user, "python3", "-c", f"import socket; socket.socket(socket.AF_UNIX).bind('{bob_dir}/sock')"
    )
    paths = {
        "/etc/hostname/x": 404, f"{bob_dir}/{'x' * 300}": 404, f"{bob_dir}/loop": 404,
        f"{bob_dir}/sock": 403, "/dev/tty": 403, "/proc/self/mem": 403, bob_dir: 403,
        "/dev/zero": 403, f"{bob_dir}/../{os.path.basename(bob_dir)}/none": 404,
    }  # fmt: skip
    jobs = {path: bobs_job(cluster, other_user, f"--output={path}") for path in paths}
    try:
        for path, status in paths.items():
            r = api.get(f"jobs/{jobs[path]}/output")
            assert r.status_code == status, (path, r.text)
            assert r.json()["reason"] in ("output_refused", "output_not_available")
            assert "Traceback" not in r.text
        log = server.log_text()
        assert "Traceback" not in log, log[
            max(0, log.find("Traceback") - 1500) : log.find("Traceback") + 1500
        ]
    finally:
        slurm_as(cluster, other_user, "scancel", *jobs.values())


# ------------------------------------------------------------------ 7. a frozen controller
def test_a_frozen_controller_answers_within_two_seconds(api: httpx.Client, cluster: DevCluster) -> None:
    mine = held(api)
    ready(api)
    good = api.get("jobs").json()
    try:
        with paused(cluster, "slurmctld"):
            time.sleep(1.1)  # past the cache window
            started = time.monotonic()
            r = refreshed(api, lambda r: r.status_code == 503, 2, "503 once the refresh gave up")
            assert time.monotonic() - started < 2, "the refresh waited out the frozen controller"
            assert r.status_code == 503 and r.headers["Retry-After"] == "2"
            body = r.json()
            assert body["stale"] is True and body["reason"] == "controller_unavailable"
            assert mine in {j["job_id"] for j in body["jobs"]} and body["fetched_at"] == good["fetched_at"]
            time.sleep(1.1)
            started = time.monotonic()
            status = api.get("status")
            assert time.monotonic() - started < 2, "GET status waited out the frozen controller"
            assert status.json()["controller"] == "down" and "1 s" in status.json()["message"]
            started = time.monotonic()
            assert api.get(f"jobs/{mine}").status_code == 503 and time.monotonic() - started < 2
        ready(api)
    finally:
        api.delete(f"jobs/{mine}")


# ------------------------------------------------------------------ 8. munge down
def test_a_munge_outage_is_named_and_answered_fast(
    api: httpx.Client, server: LabServer, cluster: DevCluster
) -> None:
    if server.backend == "slurmrestd":
        pytest.skip("slurmrestd authenticates with JWT: a stopped munged is not in its path")
    ready(api)
    limit = 1.0 if server.backend == "local" else 2.5  # locally munge's socket tells at once
    try:
        cluster.down(("munged",))
        time.sleep(1.1)
        started = time.monotonic()
        r = refreshed(api, lambda r: r.status_code == 503, limit, "503 once the refresh failed")
        assert time.monotonic() - started < limit
        assert r.status_code == 503 and r.json()["reason"] == "backend_unavailable", r.text
        assert r.json()["message"].startswith("munge: ") and r.json()["stale"] is True
        time.sleep(1.1)
        status = api.get("status")
        assert status.status_code == 503 and status.json()["message"].startswith("munge: ")
    finally:
        cluster.up()
    ready(api)
    wait_for(lambda: api.get("status").json().get("controller") == "up", what="status up again")


# ------------------------------------------------------------------ 9. client errors are 4xx
def test_slurms_client_errors_are_4xx(api: httpx.Client, cluster: DevCluster) -> None:
    done = api.post("jobs", json={"script": HELD}).json()["job_id"]
    wait_for(lambda: state(cluster, done).startswith("COMPLETED"), what="a finished job")
    array = held(api, array="0-3")
    for action in ("hold", "release"):
        r = api.post(f"jobs/{done}/{action}")
        assert r.status_code == 409 and r.json()["reason"] == "job_finished", r.text
        r = api.post(f"jobs/{array}_99/{action}")
        assert r.status_code == 404 and r.json()["reason"] == "job_not_found", r.text
    assert api.delete(f"jobs/{done}").status_code == 204  # cancelling a finished job: idempotent
    assert api.delete(f"jobs/{array}_99").status_code == 404
    assert api.get(f"jobs/{array}_99").status_code == 404
    assert api.get(f"jobs/{array}_99/output").status_code == 404
    r = api.post("jobs/actions", json={"action": "cancel", "job_ids": [f"{array}_99", f"{array}_1"]})
    assert [(x["ok"], x["reason"]) for x in r.json()["results"]] == [(False, "job_not_found"), (True, "")]
    assert state(cluster, f"{array}_0").startswith("PENDING")  # only task 1 was cancelled
    for since in ("2026-13-45", "2026-02-30", "2026-11-01T24:61"):
        r = api.get("history", params={"since": since})
        assert r.status_code == 400 and r.json()["field"] == "since", r.text
    api.delete(f"jobs/{array}")


# ------------------------------------------------------------------ details are cached
def test_job_details_cost_slurmctld_one_rpc_per_window(api: httpx.Client, cluster: DevCluster) -> None:
    mine = held(api)
    time.sleep(1.1)
    before = rpc_count(cluster, "REQUEST_JOB_INFO_SINGLE")
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: api.get(f"jobs/{mine}"), range(40)))
    assert {r.status_code for r in answers} == {200}
    assert {r.json()["fields"]["JobId"] for r in answers} == {mine}
    assert rpc_count(cluster, "REQUEST_JOB_INFO_SINGLE") - before == 1
    api.delete(f"jobs/{mine}")
