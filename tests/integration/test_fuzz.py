"""A seeded fuzz of the REST API on the real cluster: thousands of hostile requests from 4 clients.

Asserts what must hold whatever the input: no 5xx (the controller is up throughout), no
traceback anywhere, no job made without a 201 naming it, no action on a job nobody asked
for (the protected jobs are only ever named through ids beyond 32 bits), another user's jobs
untouched, and the server's memory back near where it started.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
from urllib.parse import quote

import httpx

from slurm_lab.devcluster import DevCluster
from tests.helpers import SERVER_USER, lab_server, rss_mib, slurm_as
from tests.hostile_requests import Request, Target, hostile_requests

SEED = int(os.environ.get("SLURM_LAB_FUZZ_SEED", "20261121"))
COUNT = int(os.environ.get("SLURM_LAB_FUZZ_COUNT", "4000"))
HELD = "#!/bin/sh\ntrue\n"


def _send(client: httpx.Client, req: Request) -> httpx.Response:
    # Odd bytes go out percent-encoded, as any client must send them; the server decodes them.
    return client.request(req.method, quote(req.path, safe="/"), params=req.params, content=req.body)


def _states(cluster: DevCluster, user: str, ids: list[str]) -> dict[str, str]:
    out = slurm_as(cluster, user, "squeue", "-h", "--states=all", "-j", ",".join(ids), "-o", "%i %T %r")
    return {line.split()[0]: line for line in out.splitlines()}


def _my_jobs(cluster: DevCluster) -> set[str]:
    return set(slurm_as(cluster, SERVER_USER, "squeue", "-h", "--me", "--states=all", "-o", "%A").split())


def test_seeded_fuzz_of_the_rest_api(cluster: DevCluster, other_user: str) -> None:
    with lab_server(cluster, ttl=1.0) as server, server.client() as api:
        submit = {"script": HELD, "options": {"hold": True}}
        protected = [api.post("jobs", json=submit).json()["job_id"] for _ in range(3)]
        own = [api.post("jobs", json=submit).json()["job_id"] for _ in range(5)]
        theirs = [
            slurm_as(cluster, other_user, "sbatch", "--parsable", "--hold", stdin=HELD).strip()
            for _ in range(2)
        ]
        before = {**_states(cluster, SERVER_USER, protected), **_states(cluster, other_user, theirs)}
        target = Target(mine=own, others=theirs, protected=protected)
        requests = hostile_requests(SEED, COUNT, target)
        warmup, rest = requests[:200], requests[200:]
        for req in warmup:
            _send(api, req)
        jobs_before, rss_before = _my_jobs(cluster), rss_mib(server.pid)

        clients = [server.client() for _ in range(4)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda i: _send(clients[i % 4], rest[i]), range(len(rest))))
        for client in clients:
            client.close()

        made: set[str] = set()
        for req, r in zip(rest, answers, strict=True):
            where = f"{req.method} {req.path[:80]!r} {req.params} -> {r.status_code} {r.text[:200]!r}"
            assert r.status_code < 500, where
            assert "Traceback" not in r.text, where
            if r.headers.get("content-type", "").startswith("application/json"):
                # (A path like jobs/../../x leaves the API; Jupyter's own pages may carry the token.)
                assert server.token not in r.text, where
            if r.status_code == 201:
                assert (req.method, req.path) == ("POST", "jobs"), where
                made.add(r.json()["job_id"])
        new_jobs = _my_jobs(cluster) - jobs_before
        assert new_jobs <= made, f"jobs made without a 201 naming them: {new_jobs - made}"
        after = {**_states(cluster, SERVER_USER, protected), **_states(cluster, other_user, theirs)}
        assert after == before, "a job nobody asked for (or another user's) changed"
        log = server.log_text()
        assert "Traceback" not in log and "internal error" not in log
        rss_after = rss_mib(server.pid)
        assert rss_after - rss_before < 20, f"RSS {rss_before:.0f} -> {rss_after:.0f} MiB"
        statuses = dict(sorted(collections.Counter(r.status_code for r in answers).items()))
        print(
            f"fuzz: {len(rest)} requests {statuses}, {len(made)} jobs made, RSS {rss_before:.0f} -> {rss_after:.0f} MiB"
        )
        slurm_as(cluster, other_user, "scancel", *theirs)
        slurm_as(cluster, SERVER_USER, "scancel", *protected, *own, *made)
