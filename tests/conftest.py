"""Shared fixtures. Integration tests use the REAL dev cluster and a REAL Jupyter server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from slurm_lab.devcluster import DevCluster, DevClusterError

from .helpers import OTHER_USER, LabServer, lab_server

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
def server(cluster: DevCluster) -> Iterator[LabServer]:
    with lab_server(cluster) as srv:
        yield srv


@pytest.fixture
def other_user() -> str:
    if OTHER_USER is None:
        pytest.skip("needs root mode: a second Unix user")
    return OTHER_USER


def fixture_text(name: str) -> str:
    with open(os.path.join(FIXTURES, name)) as fh:
        return fh.read()
