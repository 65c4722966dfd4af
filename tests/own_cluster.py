"""A dev cluster of a test module's own (own folder, own ports), for tests that break a cluster in
ways the shared one must not see (a node killed) or need another shape (accounting off)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from slurm_lab.devcluster import DevCluster, DevClusterError

from .helpers import ROOTFUL


def own_folder(name: str) -> Path:
    """Where cluster ``name`` lives: beside the shared one's default folder."""
    if ROOTFUL:
        return Path("/var/lib/slurm-lab") / name
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "slurm-lab" / name


@contextmanager
def own_cluster(name: str, port_base: int, *, accounting: bool, nodes: int = 4) -> Iterator[DevCluster]:
    """Start cluster ``name`` from ``port_base`` (root mode; +1000 rootless) and stop it afterwards;
    skipped when it cannot run here, unless the run requires clusters (SLURM_LAB_REQUIRE_CLUSTER)."""
    cluster = DevCluster(own_folder(name), port_base=port_base if ROOTFUL else port_base + 1000)
    try:
        cluster.up(timeout=120, nodes=nodes, accounting=accounting)
    except DevClusterError as exc:
        cluster.down()
        if os.environ.get("SLURM_LAB_REQUIRE_CLUSTER"):
            raise
        pytest.skip(f"dev cluster {name} unavailable: {exc}")
    try:
        yield cluster
    finally:
        cluster.down()
