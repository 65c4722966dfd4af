"""slurmctld stopped under a running server: 503 with stale data, then 200 after restart."""

from __future__ import annotations

import time

from slurm_lab.devcluster import DevCluster
from tests.helpers import LabServer, refreshed, wait_for


def test_controller_down_then_back(server: LabServer, cluster: DevCluster) -> None:
    with server.client() as api:
        held = api.post("jobs", json={"script": "#!/bin/sh\ntrue\n", "options": {"hold": True}}).json()[
            "job_id"
        ]
        good = api.get("jobs").json()
        assert held in {j["job_id"] for j in good["jobs"]}
        cluster.down(("slurmctld",))
        try:
            time.sleep(1.1)  # past the cache TTL
            r = refreshed(api, lambda r: r.status_code == 503, 5, "503 once the refresh failed")
            assert r.headers["Retry-After"] == "2"
            body = r.json()
            assert body["stale"] is True and body["reason"] == "controller_unavailable"
            assert "controller" in body["message"].lower()
            assert held in {j["job_id"] for j in body["jobs"]}  # last good data kept
            assert body["fetched_at"] == good["fetched_at"]
            status = api.get("status").json()
            assert status["controller"] == "down"
            r = api.get("partitions")
            assert r.status_code == 503 and r.json()["reason"] == "controller_unavailable"
            assert "Traceback" not in server.log_text()
        finally:
            cluster.up()
        fresh = wait_for(
            lambda: (r := api.get("jobs")).status_code == 200 and r.json(), what="200 after restart"
        )
        assert fresh["stale"] is False
        assert held in {j["job_id"] for j in fresh["jobs"]}  # state survived the restart
        assert wait_for(lambda: api.get("status").json()["controller"] == "up", what="controller up")
        api.delete(f"jobs/{held}")
