"""binder/start as a non-root user with a fresh home: it brings up the rootless dev cluster, and the
Jupyter server it execs serves slurm-lab with jobs running on that cluster as that user."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOTFUL, free_port, stop_process, user_argv, wait_for

ROOT = Path(__file__).parents[2]
BINDER_USER = "slab-binder"  # stands in for Binder's jovyan: no root, nothing set up before
pytestmark = pytest.mark.skipif(not ROOTFUL, reason="creates a fresh non-root user to run binder/start as")


@dataclass
class BinderUser:
    name: str
    state: Path  # XDG_STATE_HOME: the rootless cluster lives under it

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "XDG_STATE_HOME": str(self.state),
            "JUPYTER_RUNTIME_DIR": str(self.state / "jupyter-runtime"),
        }

    def slurm(self, *argv: str) -> str:
        conf = self.state / "slurm-lab" / "devcluster" / "etc" / "slurm.conf"
        return self.run("env", f"SLURM_CONF={conf}", *argv).stdout

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            user_argv(self.name, argv, self.env), capture_output=True, text=True, timeout=120
        )


@pytest.fixture
def binder_user() -> Iterator[BinderUser]:
    try:
        pwd.getpwnam(BINDER_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", BINDER_USER], check=True)
    state = Path(tempfile.mkdtemp(prefix="slurm-lab-binder-", dir="/var/tmp"))
    state.chmod(0o755)  # as a home folder is: munged wants its socket reachable by all
    shutil.chown(state, BINDER_USER, BINDER_USER)
    user = BinderUser(BINDER_USER, state)
    yield user
    user.run(sys.executable, "-m", "slurm_lab.devcluster", "down")
    shutil.rmtree(state, ignore_errors=True)


def test_start_brings_up_slurm_and_serves_slurm_lab_as_the_user(binder_user: BinderUser) -> None:
    port, token = free_port(), secrets.token_hex(8)
    home = pwd.getpwnam(binder_user.name).pw_dir
    log = binder_user.state / "start.log"
    argv = [str(ROOT / "binder" / "start"), "jupyter", "server", f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            user_argv(binder_user.name, argv, binder_user.env), stdout=out, stderr=subprocess.STDOUT, cwd=home
        )
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/slurm-lab/api/",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    try:

        def status() -> dict[str, str] | None:
            assert proc.poll() is None, log.read_text()
            try:
                r = api.get("status")
            except httpx.TransportError:
                return None
            return r.json() if r.status_code == 200 else None

        ready = wait_for(status, timeout=120, what="binder/start to serve slurm-lab")
        assert "dev cluster ready" in log.read_text(), log.read_text()
        assert ready["user"] == binder_user.name and ready["controller"] == "up", log.read_text()
        conf = binder_user.state / "slurm-lab" / "devcluster" / "etc" / "slurm.conf"
        assert f"SlurmUser={binder_user.name}" in conf.read_text()  # rootless: nothing runs as root

        output = Path(home) / "binder-job.out"
        r = api.post("jobs", json={"script": f"#!/bin/sh\nid -un > {output}\n"})
        assert r.status_code == 201, r.text
        job_id = r.json()["job_id"]
        assert (
            wait_for(lambda: output.exists() and output.read_text().strip(), timeout=60) == binder_user.name
        )
        assert job_id in {j["job_id"] for j in api.get("jobs").json()["jobs"]}
        # The site's shape, rootless too: four nodes, and accounting (slurmdbd + MariaDB as the
        # user) behind the Finished view, with the job's efficiency.
        assert len(api.get("nodes").json()["nodes"]) == 4

        def accounted() -> dict | None:
            history = api.get("history", params={"since": "now-1days"}).json()
            found = [j for j in history["jobs"] if j["job_id"] == job_id and j["efficiency"]]
            return history if history["source"] == "accounting" and found else None

        wait_for(accounted, timeout=60, interval=1, what="the job in the rootless cluster's accounting")
    except AssertionError:
        print(binder_user.slurm("squeue", "-t", "all", "-o", "%i %T %R %u %Z"), log.read_text())
        raise
    finally:
        api.close()
        stop_process(proc, 30)
