"""The dev cluster's slurmrestd: JWT only, on 127.0.0.1 and on a unix socket, the three 22.05 API versions;
and the package installer ./dev runs with the system python3 before any venv exists."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import SERVER_USER, slurm_as, user_argv

ROOT = Path(__file__).parents[2]
VERSIONS = ("v0.0.36", "v0.0.37", "v0.0.38")


@pytest.fixture(scope="module")
def restd(cluster: DevCluster) -> dict[str, str]:
    env = cluster.restd_env
    if not env:
        pytest.skip("slurmrestd is not part of this dev cluster (rootless, slurmrestd not installed)")
    return env


@pytest.fixture(params=["tcp", "unix"])
def rest(request: pytest.FixtureRequest, restd: dict[str, str]) -> Iterator[httpx.Client]:
    """A client of slurmrestd over TCP, then over its unix socket."""
    if request.param == "tcp":
        client = httpx.Client(base_url=restd["SLURM_LAB_RESTD_URL"], timeout=30)
    else:
        transport = httpx.HTTPTransport(uds=restd["SLURM_LAB_RESTD_SOCKET"])
        client = httpx.Client(transport=transport, base_url="http://localhost", timeout=30)
    with client:
        yield client


def auth(cluster: DevCluster, user: str = SERVER_USER) -> dict[str, str]:
    return {"X-SLURM-USER-NAME": user, "X-SLURM-USER-TOKEN": cluster.token(user, lifespan=300)}


def test_openapi_lists_the_three_versions(cluster: DevCluster, rest: httpx.Client) -> None:
    r = rest.get("/openapi/v3", headers=auth(cluster))
    assert r.status_code == 200, r.text
    prefixes = {"/".join(path.split("/")[:3]) for path in r.json()["paths"]}
    assert {f"/slurm/{v}" for v in VERSIONS} <= prefixes


def test_a_token_lets_its_user_list_jobs_and_diag(cluster: DevCluster, rest: httpx.Client) -> None:
    held = slurm_as(cluster, SERVER_USER, "sbatch", "--parsable", "--hold", "--wrap", "true").strip()
    try:
        headers = auth(cluster)
        r = rest.get("/slurm/v0.0.38/jobs", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["errors"] == [] and body["meta"]["Slurm"]["release"].startswith("22.05")
        mine = [j for j in body["jobs"] if str(j["job_id"]) == held]
        assert mine and mine[0]["user_name"] == SERVER_USER
        assert rest.get("/slurm/v0.0.38/diag", headers=headers).status_code == 200
    finally:
        slurm_as(cluster, SERVER_USER, "scancel", held)


def test_a_bad_token_or_no_user_name_is_refused(cluster: DevCluster, rest: httpx.Client) -> None:
    headers = auth(cluster)
    head, payload, signature = headers["X-SLURM-USER-TOKEN"].split(".")
    forged = f"{head}.{payload}.{signature[::-1]}"
    r = rest.get("/slurm/v0.0.38/jobs", headers={**headers, "X-SLURM-USER-TOKEN": forged})
    # 22.05 answers a bad, expired or mismatched token with 500, not 401.
    assert r.status_code == 500, r.text
    r = rest.get("/slurm/v0.0.38/jobs", headers={"X-SLURM-USER-TOKEN": headers["X-SLURM-USER-TOKEN"]})
    assert r.status_code == 401, r.text


def test_the_socket_takes_other_users(restd: dict[str, str]) -> None:
    code = (
        "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]);"
        "s.sendall(b'GET /openapi/v3 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n');"
        "print(s.recv(64).split()[1].decode())"
    )
    argv = [sys.executable, "-c", code, restd["SLURM_LAB_RESTD_SOCKET"]]
    proc = subprocess.run(user_argv(SERVER_USER, argv), capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip() == "401", proc.stderr  # connected and answered (no token: 401)


def test_token_command_prints_just_the_token(cluster: DevCluster, restd: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "slurm_lab.devcluster", "token", SERVER_USER, "--lifespan", "60"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    assert len(out.splitlines()) == 1 and out.count(".") == 2
    payload = out.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sun"] == SERVER_USER and claims["exp"] - claims["iat"] == 60


def test_env_exports_the_restd_address(restd: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "slurm_lab.devcluster", "env"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    assert f"export SLURM_LAB_RESTD_URL={restd['SLURM_LAB_RESTD_URL']}" in out.splitlines()
    assert f"export SLURM_LAB_RESTD_SOCKET={restd['SLURM_LAB_RESTD_SOCKET']}" in out.splitlines()


@pytest.mark.skipif(not os.path.exists("/usr/bin/dpkg-query"), reason="Debian packages only")
def test_package_check_runs_with_the_system_python_alone() -> None:
    """./dev runs the installer before the venv exists: the package must import with the stdlib alone."""
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
    argv = [
        python,
        "-S",
        "-m",
        "slurm_lab.devcluster",
        "packages",
        "slurm-wlm",
        "munge",
    ]  # -S: no site-packages
    env = {"PATH": os.environ["PATH"]}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
