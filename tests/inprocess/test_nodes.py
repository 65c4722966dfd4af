"""GET nodes: every node's use and state, one listing per window for every client."""

from __future__ import annotations

from slurm_lab.errors import ControllerUnavailable

from .fake import FakeScheduler
from .support import Api


async def test_nodes_with_gpus_and_one_listing_per_window(api: Api, fake: FakeScheduler) -> None:
    for _ in range(3):
        reply = await api("GET", "nodes")
        assert reply.code == 200
    nodes = {n["name"]: n for n in reply.json["nodes"]}
    assert nodes["c3"]["gpus_total"] == 2 and nodes["c3"]["partitions"] == ["debug", "long", "gpu"]
    assert nodes["c1"]["cpus_allocated"] == 2 and nodes["c1"]["memory_total_mb"] == 2000
    assert fake.calls["nodes"] == 1


async def test_nodes_while_the_controller_is_down_is_a_503(api: Api, fake: FakeScheduler) -> None:
    fake.fail_next("nodes", ControllerUnavailable("Slurm controller unavailable"))
    reply = await api("GET", "nodes")
    assert reply.code == 503 and reply.json["reason"] == "controller_unavailable"
    assert "Retry-After" in reply.headers
