"""SSH-only behaviour against the real sshd: host keys, reconnects, quoting, channels."""

from __future__ import annotations

import concurrent.futures
import subprocess
import time
from pathlib import Path

import pytest

from slurm_lab.devcluster import DevCluster
from slurm_lab.devcluster.sshd import DevSSHD
from tests.helpers import LabServer, lab_server, refreshed, ssh_config, wait_for


def logins(sshd: DevSSHD) -> int:
    return sshd.log.read_text(errors="replace").count("Accepted publickey")


@pytest.fixture
def ssh_server(cluster: DevCluster, sshd: DevSSHD) -> LabServer:
    with lab_server(cluster, extra_config=ssh_config(sshd, cluster), backend="ssh") as srv:
        yield srv


def test_wrong_host_key_is_refused_and_nothing_runs(
    cluster: DevCluster, sshd: DevSSHD, tmp_path: Path
) -> None:
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True)
    known = tmp_path / "known_hosts"
    kind, key = impostor.with_suffix(".pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {key}\n")
    tmp_path.chmod(0o755)
    known.chmod(0o644)
    before = logins(sshd)
    config = ssh_config(sshd, cluster, known_hosts=str(known))
    with lab_server(cluster, extra_config=config, backend="ssh") as srv, srv.client() as api:
        r = api.get("jobs")
        assert r.status_code == 503 and r.json()["reason"] == "backend_unavailable"
        assert str(known) in r.json()["message"] and "host key" in r.json()["message"]
        assert int(r.headers["Retry-After"]) >= 1
        status = api.get("status")
        assert status.status_code == 503
        assert "Traceback" not in srv.log_text()
    assert logins(sshd) == before  # refused before authenticating: no command could run


def test_missing_known_hosts_names_the_file(cluster: DevCluster, sshd: DevSSHD) -> None:
    config = ssh_config(sshd, cluster, known_hosts="/nonexistent/known_hosts")
    with lab_server(cluster, extra_config=config, backend="ssh") as srv, srv.client() as api:
        r = api.get("status")
        assert r.status_code == 503 and "/nonexistent/known_hosts does not exist" in r.json()["message"]


def test_one_connection_serves_many_requests(ssh_server: LabServer, sshd: DevSSHD) -> None:
    before = logins(sshd)
    with ssh_server.client() as api:
        for _ in range(5):
            assert api.get("partitions").status_code == 200
            assert api.get("jobs", params={"state": "PD"}).status_code == 200
            time.sleep(0.3)

    def burst(_: int) -> int:  # more concurrent commands than sshd's MaxSessions (10)
        with ssh_server.client() as client:
            return client.get("jobs/1/output").status_code

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        assert set(pool.map(burst, range(24))) <= {404}
    assert logins(sshd) - before == 0  # the connection opened at server start is reused


def test_reconnects_after_sshd_restart(ssh_server: LabServer, sshd: DevSSHD) -> None:
    with ssh_server.client() as api:
        before = api.get("jobs").json()["fetched_at"]
        sshd.down()  # the listener and every open session, like a rebooted login node
        sshd.up()
        time.sleep(1.1)  # past the cache TTL
        started = time.monotonic()
        r = refreshed(api, lambda r: r.json()["fetched_at"] > before, 15, "a listing over a new connection")
        assert r.status_code == 200, r.text
        assert time.monotonic() - started < 15  # reconnected, no hang to the command timeout
        assert wait_for(
            lambda: api.get("status").json()["controller"] == "up", what="status over new connection"
        )


def test_names_with_shell_characters_round_trip_exactly(ssh_server: LabServer) -> None:
    name = "a b*? (x) {y} #z ~!<img src=x>"
    with ssh_server.client() as api:
        r = api.post(
            "jobs", json={"script": "#!/bin/sh\ntrue\n", "options": {"hold": True, "job_name": name}}
        )
        assert r.status_code == 201
        job_id = r.json()["job_id"]
        assert api.get(f"jobs/{job_id}").json()["fields"]["JobName"] == name
        api.delete(f"jobs/{job_id}")


def test_wrong_client_key_is_a_clear_auth_error(cluster: DevCluster, sshd: DevSSHD) -> None:
    config = ssh_config(sshd, cluster).replace(
        str(sshd.client_key("slab-alice")), str(sshd.client_key("slab-bob"))
    )
    with lab_server(cluster, user="root", extra_config=config, backend="ssh") as srv, srv.client() as api:
        r = api.get("jobs")
        assert r.status_code == 503 and "authentication as slab-alice" in r.json()["message"]
        assert "client_keys" in r.json()["message"]
