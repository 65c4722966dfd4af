"""The answers users come for, on the site-shaped dev cluster (4 nodes, GPUs, slurmdbd, QOS):
every pending reason produced for real and explained, efficiency against a known burn, and
Slurm's QOS refusal."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import ROOTFUL, SERVER_USER, lab_server, rpc_count, slurm_as, wait_for

HELD = "#!/bin/sh\ntrue\n"
#: 300 MiB resident and 12 s of CPU, then done: a known burn to check efficiency against.
BURN = """#!/bin/sh
/usr/bin/python3 -c '
import time
block = bytearray(300 * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
start = time.process_time()
while time.process_time() - start < 12:
    pass
'
"""


def _env(cluster: DevCluster) -> dict[str, str]:
    return {**os.environ, **cluster.env}


def admin(cluster: DevCluster, *argv: str, input: str | None = None) -> str:
    return subprocess.run(
        argv, env=_env(cluster), capture_output=True, text=True, check=True, input=input
    ).stdout


@pytest.fixture(scope="module")
def site(cluster: DevCluster) -> DevCluster:
    if not ROOTFUL:
        pytest.skip("needs root mode: admin holds, partition and association changes")
    if "limited" not in admin(cluster, "sacctmgr", "-n", "-P", "show", "qos", "format=name").split():
        pytest.skip("needs the dev cluster with accounting (python -m slurm_lab.devcluster up)")
    return cluster


@pytest.fixture(scope="module")
def api(site: DevCluster) -> Iterator[httpx.Client]:
    with lab_server(site) as srv, srv.client() as client:
        yield client


def submit(api: httpx.Client, script: str = HELD, **options: object) -> str:
    r = api.post("jobs", json={"script": script, "options": {"output": "/dev/null", **options}})
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


def pending_of(api: httpx.Client, job_id: str, reason: str) -> dict:
    """The job's pending object once Slurm gives it ``reason``."""

    def check() -> dict | None:
        got = api.get(f"jobs/{job_id}").json().get("pending") or {}
        return got if (got.get("reason") or "").startswith(reason) else None

    return wait_for(check, timeout=60, what=f"job {job_id} pending for {reason}")


def test_every_pending_reason_is_produced_and_explained(api: httpx.Client, site: DevCluster) -> None:
    jobs: list[str] = []
    try:
        held = submit(api, hold=True)
        jobs.append(held)
        assert pending_of(api, held, "JobHeldUser")["action"] == "Release it to let it run."
        admin_held = submit(api, begin="now+1hour")
        jobs.append(admin_held)
        admin(site, "scontrol", "hold", admin_held)  # root holds it: the administrators' hold
        assert "administrators" in pending_of(api, admin_held, "JobHeldAdmin")["action"]
        later = submit(api, begin="now+1hour")
        jobs.append(later)
        assert "--begin" in pending_of(api, later, "BeginTime")["explanation"]
        waits = submit(api, dependency=f"afterok:{held}")
        jobs.append(waits)
        assert "depends on" in pending_of(api, waits, "Dependency")["explanation"]
        failed = submit(api, "#!/bin/sh\nexit 1\n")
        never = submit(api, dependency=f"afterok:{failed}")
        jobs += [failed, never]
        assert "never" in pending_of(api, never, "DependencyNeverSatisfied")["explanation"]
        # Both GPU nodes' GPUs taken: the next GPU job waits for Resources, the one after for Priority.
        gpus = [submit(api, "#!/bin/sh\nsleep 120\n", partition="gpu", gres="gpu:2") for _ in range(4)]
        jobs += gpus
        resources = pending_of(api, gpus[2], "Resources")
        assert "free CPUs, memory, GPUs" in resources["explanation"] and resources["rank"] == 1
        priority = pending_of(api, gpus[3], "Priority")
        assert priority["rank"] == 2 and priority["pending_in_partition"] >= 2
        assert set(priority["factors"]) >= {"age", "fairshare", "job_size", "partition", "qos"}
        # A node unavailable to a job that needs it.
        admin(site, "scontrol", "update", "nodename=c2", "state=drain", "reason=slurm-lab test")
        pinned = submit(api, nodelist="c2")
        jobs.append(pinned)
        assert "unavailable" in pending_of(api, pinned, "ReqNodeNotAvail")["explanation"]
        # The partition's limit lowered under a waiting job.
        long_one = submit(api, partition="long", time="2-00:00:00", hold=True)
        jobs.append(long_one)
        admin(site, "scontrol", "update", "PartitionName=long", "MaxTime=1-00:00:00")
        admin(site, "scontrol", "release", long_one)
        assert "shorter --time" in pending_of(api, long_one, "PartitionTimeLimit")["action"]
        # No CPU minutes left on the user's association.
        admin(site, "sacctmgr", "-i", "modify", "user", SERVER_USER, "set", "GrpTRESMins=cpu=0")
        assoc = submit(api)
        jobs.append(assoc)
        assert "CPU minutes" in pending_of(api, assoc, "AssocGrpCPUMinutesLimit")["explanation"]
    finally:
        for argv in (
            ["scontrol", "update", "nodename=c2", "state=resume"],
            ["scontrol", "update", "PartitionName=long", "MaxTime=7-00:00:00"],
            ["sacctmgr", "-i", "modify", "user", SERVER_USER, "set", "GrpTRESMins=cpu=-1"],
        ):
            subprocess.run(argv, env=_env(site), capture_output=True)  # whichever were changed
        if jobs:
            subprocess.run(["scancel", *jobs], env=_env(site), capture_output=True)


def test_a_qos_submit_limit_is_slurms_refusal_in_words(api: httpx.Client, site: DevCluster) -> None:
    jobs = [submit(api, qos="limited", hold=True) for _ in range(3)]
    try:
        account = api.get("account").json()
        limited = {lim["name"]: lim for q in account["qos"] if q["name"] == "limited" for lim in q["limits"]}
        assert (limited["MaxSubmitJobsPU"]["used"], limited["MaxSubmitJobsPU"]["left"]) == (3, 0)
        assert {a["account"] for a in account["associations"]} == {"physics", "biology"}
        r = api.post("jobs", json={"script": HELD, "options": {"qos": "limited", "hold": True}})
        assert r.status_code == 400 and r.json()["reason"] == "slurm_rejected"
        assert "Job violates accounting/QOS policy" in r.json()["message"]
    finally:
        admin(site, "scancel", *jobs)


def test_efficiency_matches_a_known_burn_within_ten_percent(api: httpx.Client, site: DevCluster) -> None:
    job_id = submit(api, BURN, mem="1G", time="10", cpus_per_task="1")

    def measured() -> dict | None:
        eff = api.get(f"jobs/{job_id}").json().get("efficiency")
        return eff if eff and eff["max_rss_bytes"] else None

    eff = wait_for(measured, timeout=90, interval=1, what="the job's efficiency in accounting")
    assert abs(eff["cpu_seconds"] - 12) <= 1.2, eff  # the 12 s of CPU it burnt, within 10 %
    assert abs(eff["max_rss_bytes"] - 300 * 2**20) <= 30 * 2**20, eff  # the 300 MiB it held
    assert eff["memory_requested_bytes"] == 2**30 and eff["time_limit_seconds"] == 600
    assert eff["cpu_efficiency"] > 0.8
    assert eff["suggestions"]["mem"] in ("400M", "500M") and eff["suggestions"]["time"] == "5"
    assert eff["notes"][0].startswith("used 0.3 GB of 1 GB: --mem=")
    # The history listing carries the same figures (one sacct for every job in it).
    listed = {j["job_id"]: j for j in api.get("history", params={"since": "now-1days"}).json()["jobs"]}
    assert listed[job_id]["efficiency"]["cpu_seconds"] == eff["cpu_seconds"]
    assert listed[job_id]["efficiency"]["suggestions"] == eff["suggestions"]
    # Resubmit it right-sized: its kept script and options, the suggestions applied, a new job.
    kept = api.get(f"jobs/{job_id}/script").json()
    assert kept["source"] == "kept" and kept["script"] == BURN
    assert kept["options"] == {"output": "/dev/null", "mem": "1G", "time": "10", "cpus_per_task": "1"}
    again = submit(api, kept["script"], **{**kept["options"], **eff["suggestions"], "hold": True})
    try:
        record = api.get(f"jobs/{again}").json()["fields"]
        assert record["MinMemoryNode"] == eff["suggestions"]["mem"] and record["TimeLimit"] == "00:05:00"
    finally:
        admin(site, "scancel", again)


def test_resubmit_a_job_submitted_elsewhere(api: httpx.Client, site: DevCluster) -> None:
    """Slurm's own copy of the script (scontrol write batch_script) with the options its record
    shows; another user's job is theirs alone."""
    script = "#!/bin/bash\n#SBATCH --comment=elsewhere\necho 'from the command line'\n"
    mine = slurm_as(site, SERVER_USER, "sbatch", "--parsable", "-H", "-J", "cli job", "-t", "7", "--mem=300M",
                    "-o", "/dev/null", stdin=script).strip()  # fmt: skip
    theirs = slurm_as(site, "slab-bob", "sbatch", "--parsable", "-H", "-o", "/dev/null", stdin=script).strip()
    try:
        got = api.get(f"jobs/{mine}/script").json()
        assert got["source"] == "controller" and got["script"] == script
        assert got["options"]["job_name"] == "cli job" and got["options"]["time"] == "00:07:00"
        assert got["options"]["mem"] == "300M" and got["options"]["partition"] == "debug"
        r = api.get(f"jobs/{theirs}/script")
        assert r.status_code == 403 and script not in r.text
        assert api.get("jobs/99999999/script").status_code == 404
    finally:
        admin(site, "scancel", mine, theirs)


def test_will_it_run_flags_the_limits_it_would_hit(api: httpx.Client, site: DevCluster) -> None:
    """Slurm says "would start" for a request that then pends on the QOS's CPU-minutes: the
    answer says so, and no job is made."""
    before = rpc_count(site, "REQUEST_SUBMIT_BATCH_JOB")
    r = api.post("jobs", json={"script": HELD, "test_only": True,
                                "options": {"qos": "limited", "partition": "long", "time": "2-00:00:00",
                                            "cpus_per_task": "2"}})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expected_start"] and body["partition"] == "long"
    assert any("CPU-minutes" in w and "QOS limited" in w for w in body["warnings"]), body
    small = api.post("jobs", json={"script": HELD, "test_only": True, "options": {"time": "5"}}).json()
    assert small["warnings"] == []
    assert rpc_count(site, "REQUEST_SUBMIT_BATCH_JOB") == before
