"""Shared fixtures. Integration tests use the REAL dev cluster and a REAL Jupyter server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from slurm_lab.devcluster import DevCluster, DevClusterError
from slurm_lab.devcluster.sshd import DevSSHD

from .helpers import OTHER_USER, ROOTFUL, LabServer, lab_server, restd_config, ssh_config

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="session")
def cluster() -> DevCluster:
    """The dev cluster, started if needed (idempotent). Skipped only when it cannot run here
    and the run did not ask for it (./dev test sets SLURM_LAB_REQUIRE_CLUSTER=1)."""
    dev = DevCluster()
    try:
        dev.up()
    except DevClusterError as exc:
        if os.environ.get("SLURM_LAB_REQUIRE_CLUSTER"):
            raise
        pytest.skip(f"dev cluster unavailable: {exc}")
    return dev


@pytest.fixture(scope="session")
def sshd(cluster: DevCluster) -> Iterator[DevSSHD]:
    """The real OpenSSH sshd on 127.0.0.1 (root mode: it logs in as the test users)."""
    if not ROOTFUL:
        pytest.skip("the dev sshd needs root")
    daemon = DevSSHD(cluster.layout)
    daemon.up()
    yield daemon


@pytest.fixture(scope="session", params=["local", "ssh", "slurmrestd"])
def server(request: pytest.FixtureRequest, cluster: DevCluster) -> Iterator[LabServer]:
    """A real Jupyter server with slurm-lab, once per backend: the API suite is the conformance
    suite of the three."""
    extra = ""
    if request.param == "ssh":
        extra = ssh_config(request.getfixturevalue("sshd"), cluster)
    elif request.param == "slurmrestd":
        if not cluster.restd_env:
            pytest.skip("slurmrestd is not running in this dev cluster")
        extra = restd_config(cluster)
    with lab_server(cluster, extra_config=extra, backend=request.param) as srv:
        yield srv


@pytest.fixture
def other_user() -> str:
    if OTHER_USER is None:
        pytest.skip("needs root mode: a second Unix user")
    return OTHER_USER


def fixture_text(name: str) -> str:
    with open(os.path.join(FIXTURES, name)) as fh:
        return fh.read()
