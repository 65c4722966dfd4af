"""slurmrestd-only behaviour against the dev cluster's real slurmrestd (auth/jwt): tokens, the
unix socket, no host (501), an unknown API version, and slurmrestd itself stopped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import SERVER_USER, lab_server, refreshed, restd_config, wait_for

HELD = "#!/bin/sh\ntrue\n"


@pytest.fixture(scope="module")
def restd(cluster: DevCluster) -> DevCluster:
    if not cluster.restd_env:
        pytest.skip("slurmrestd is not running in this dev cluster")
    return cluster


def token_file_of(config: str) -> Path:
    return Path(config.split("token_file = ")[1].split("\n")[0].strip("'\""))


def test_over_the_unix_socket_without_a_host_files_are_501(restd: DevCluster) -> None:
    config = restd_config(restd, via="unix").replace('c.SlurmLab.host_class = "local"\n', "")
    with lab_server(restd, extra_config=config, backend="slurmrestd") as srv, srv.client() as api:
        status = api.get("status").json()
        assert status["backend"] == "slurmrestd" and status["user"] == SERVER_USER
        assert status["root_dir"] is None  # no host: Jupyter's files are not the cluster's
        job = api.post("jobs", json={"script": HELD, "options": {"hold": True, "chdir": "/tmp"}})
        assert job.status_code == 201, job.text
        job_id = job.json()["job_id"]
        r = api.get(f"jobs/{job_id}/output")
        assert r.status_code == 501 and r.json()["reason"] == "not_supported"
        assert 'c.SlurmLab.host_class = "local"' in r.json()["message"]
        # Without a host there is no home folder to start in: sbatch's default needs saying.
        r = api.post("jobs", json={"script": HELD, "options": {"hold": True}})
        assert r.status_code == 501 and "chdir" in r.json()["message"]
        assert api.delete(f"jobs/{job_id}").status_code == 204


def test_options_slurmrestd_cannot_carry_are_refused_by_name(restd: DevCluster) -> None:
    with (
        lab_server(restd, extra_config=restd_config(restd), backend="slurmrestd") as srv,
        srv.client() as api,
    ):
        r = api.post("jobs", json={"script": HELD, "options": {"tmp": "1G"}})
        assert (
            r.status_code == 501
            and r.json()["message"] == "tmp: --tmp cannot be sent through slurmrestd 22.05"
        )
        r = api.post("jobs", json={"script": "#!/bin/sh\n#SBATCH --mem-bind=local\ntrue\n"})
        assert r.status_code == 501 and "#SBATCH --mem-bind" in r.json()["message"]
        # The script's own #SBATCH lines are honoured (slurmrestd itself ignores them).
        r = api.post("jobs", json={"script": "#!/bin/sh\n#SBATCH --job-name=from-lines\n#SBATCH -H\ntrue\n"})
        assert r.status_code == 201, r.text
        job_id = r.json()["job_id"]
        fields = api.get(f"jobs/{job_id}").json()["fields"]
        assert fields["JobName"] == "from-lines" and "JobHeld" in fields["Reason"]
        api.delete(f"jobs/{job_id}")


def test_a_bad_token_is_503_naming_its_source_and_an_expiring_one_is_renewed(restd: DevCluster) -> None:
    config = restd_config(restd)
    token_file = token_file_of(config)
    token_file.write_text("eyJhbGciOiJIUzI1NiJ9.eyJzdW4iOiJzbGFiLWFsaWNlIn0.bad")
    with lab_server(restd, extra_config=config, backend="slurmrestd") as srv, srv.client() as api:
        r = api.get("jobs")
        assert r.status_code == 503 and r.json()["reason"] == "backend_unavailable", r.text
        assert f"the token file {token_file}" in r.json()["message"] and "Retry-After" in r.headers
        # A token that expires within the renewal margin: renewed with scontrol token on the host.
        token_file.write_text(restd.token(SERVER_USER, 60))
        time.sleep(1.1)
        assert wait_for(lambda: api.get("jobs").status_code == 200, what="a listing with the new token")
        assert "scontrol token" not in api.get("status").text  # no token or its source in answers


def test_an_api_version_slurm_lab_does_not_speak_is_named(restd: DevCluster) -> None:
    config = restd_config(restd) + 'c.SlurmrestdScheduler.api_version = "v0.0.40"\n'
    with lab_server(restd, extra_config=config, backend="slurmrestd") as srv, srv.client() as api:
        r = api.get("status")
        assert r.status_code == 503
        assert r.json()["message"] == (
            "slurmrestd at http://127.0.0.1:6820 offers v0.0.36, v0.0.37, v0.0.38; "
            "slurm-lab speaks v0.0.38, v0.0.37, v0.0.36"
        )
        wait_for(lambda: "offers v0.0.36, v0.0.37, v0.0.38" in srv.log_text(), what="the message at start")


def test_slurmrestd_down_is_503_with_retry_after_and_stale_data(restd: DevCluster) -> None:
    with (
        lab_server(restd, extra_config=restd_config(restd), backend="slurmrestd") as srv,
        srv.client() as api,
    ):
        assert api.get("jobs").status_code == 200
        try:
            restd.down(("slurmrestd",))
            time.sleep(1.1)
            started = time.monotonic()
            r = refreshed(api, lambda r: r.status_code == 503, 2, "503 once the refresh failed")
            assert time.monotonic() - started < 2
            assert r.status_code == 503 and r.json()["stale"] is True and "Retry-After" in r.headers
            assert "cannot reach slurmrestd at http://127.0.0.1:6820" in r.json()["message"]
        finally:
            restd.up()
        wait_for(lambda: api.get("jobs").status_code == 200, what="slurmrestd back")
