"""A server whose hub user is not the account Slurm sees refuses "my" jobs, submits and actions."""

from __future__ import annotations

from slurm_lab.devcluster import DevCluster
from tests.helpers import SERVER_USER, lab_server, rpc_count, slurm_as


def test_hub_user_that_is_not_the_servers_account_gets_a_clear_403(cluster: DevCluster) -> None:
    held = slurm_as(cluster, SERVER_USER, "sbatch", "--parsable", "--hold", "--wrap", "true").strip()
    try:
        with lab_server(cluster, env={"JUPYTERHUB_USER": "carol"}) as srv, srv.client() as api:
            status = api.get("status").json()
            assert status["user"] == SERVER_USER
            assert "'carol'" in status["identity_error"] and f"'{SERVER_USER}'" in status["identity_error"]

            submits = rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB")
            for response in (
                api.get("jobs"),
                api.get("history"),
                api.post("jobs", json={"script": "#!/bin/sh\ntrue\n"}),
                api.delete(f"jobs/{held}"),
                api.post(f"jobs/{held}/release"),
            ):
                assert response.status_code == 403, response.text
                body = response.json()
                assert body["reason"] == "unknown_user" and body["hub_user"] == "carol"
                assert "JupyterHub user 'carol' is not the Unix account" in body["message"]
            assert rpc_count(cluster, "REQUEST_SUBMIT_BATCH_JOB") == submits

            # The whole queue is public in Slurm anyway: still served.
            listing = api.get("jobs", params={"scope": "all"})
            assert listing.status_code == 200 and held in {j["job_id"] for j in listing.json()["jobs"]}

        with lab_server(cluster, env={"JUPYTERHUB_USER": SERVER_USER}) as srv, srv.client() as api:
            assert api.get("status").json()["identity_error"] is None
            assert held in {j["job_id"] for j in api.get("jobs").json()["jobs"]}
    finally:
        slurm_as(cluster, SERVER_USER, "scancel", held)
