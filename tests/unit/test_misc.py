"""Idempotency store, output decoding, OpenAPI consistency, config help texts."""

from __future__ import annotations

import asyncio
import re
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from slurm_lab import handlers, validation
from slurm_lab.config import SlurmLab
from slurm_lab.errors import IdempotencyConflict
from slurm_lab.idempotency import IdempotencyStore
from slurm_lab.schedulers.base import decode_whole_chars


@pytest.mark.asyncio
async def test_idempotency_claims_wait_for_each_other_and_survive_restart(tmp_path: Path) -> None:
    path = tmp_path / "idem.jsonl"
    store = IdempotencyStore(path, ttl=60)
    made: list[str] = []

    async def request() -> tuple[str, bool]:
        async with store.claim("k", "fp") as claim:
            if claim.job_id is not None:
                return claim.job_id, True
            store.attempting(claim)
            await asyncio.sleep(0.01)
            made.append("101")
            store.succeeded(claim, "101")
            return "101", False

    results = await asyncio.gather(*(request() for _ in range(5)))
    assert made == ["101"] and sorted(results) == [("101", False)] + [("101", True)] * 4
    assert not store._locks  # no lock outlives its requests
    again = IdempotencyStore(path, ttl=60)  # a restarted server
    async with again.claim("k", "fp") as claim:
        assert claim.job_id == "101"
    with pytest.raises(IdempotencyConflict):
        async with again.claim("k", "other body"):
            pass
    assert path.stat().st_mode & 0o077 == 0


@pytest.mark.asyncio
async def test_an_unknown_outcome_is_remembered_and_a_refusal_frees_the_key(tmp_path: Path) -> None:
    path = tmp_path / "idem.jsonl"
    store = IdempotencyStore(path, ttl=60)
    async with store.claim("lost", "fp") as claim:
        store.attempting(claim)  # ... and the server is killed before sbatch answers
        tag = claim.tag
    async with store.claim("refused", "fp") as claim:
        store.attempting(claim)
        store.failed(claim)
    restarted = IdempotencyStore(path, ttl=60)
    async with restarted.claim("lost", "fp") as claim:
        assert claim.attempted and claim.job_id is None and claim.tag == tag
    async with restarted.claim("refused", "fp") as claim:
        assert not claim.attempted and claim.tag != tag
    assert len(restarted) == 1


def test_decode_leaves_a_cut_character_for_the_next_read() -> None:
    data = "héllo €".encode()
    assert decode_whole_chars(data) == ("héllo €", len(data))
    assert decode_whole_chars(data[:-1]) == ("héllo ", len(data) - 3)


def test_openapi_documents_every_route_and_option() -> None:
    spec = yaml.safe_load(files("slurm_lab").joinpath("openapi.yaml").read_text())
    documented = set(spec["paths"])
    for pattern, handler in handlers.api_handlers():
        if handler is handlers.NoSuchRouteHandler:
            continue
        path = "/" + pattern.split("/slurm-lab/api/", 1)[1]
        path = re.sub(r"\(\?P<job_id>[^)]*\)", "{job_id}", path)
        for concrete in re.sub(r"\(\?P<action>([^)]*)\)", r"\1", path).split("|"):
            assert any(concrete.endswith(d.rsplit("/", 1)[-1]) for d in documented), concrete
    options = set(spec["components"]["schemas"]["SubmitOptions"]["properties"])
    assert options == set(validation.SBATCH_OPTIONS)
    reasons = set(spec["components"]["schemas"]["Error"]["properties"]["reason"]["enum"])
    assert reasons == {cls.reason for cls in handlers.STATUS}


def test_every_setting_has_a_help_text_with_default_and_example() -> None:
    from slurm_lab.hosts.local import LocalHost
    from slurm_lab.hosts.ssh import SSHHost
    from slurm_lab.schedulers.slurmrestd import SlurmrestdScheduler

    for cls in (SlurmLab, LocalHost, SSHHost, SlurmrestdScheduler):
        for name, trait in cls.class_traits(config=True).items():
            assert "Default:" in trait.help and "Example:" in trait.help, f"{cls.__name__}.{name}"


def test_identity_problem_names_hub_user_and_account() -> None:
    from slurm_lab.identity import identity_problem

    assert identity_problem("alice", None) is None
    assert identity_problem("alice", "alice") is None
    mismatch = identity_problem("jovyan", "alice")
    assert mismatch is not None and "'alice'" in mismatch.message and "'jovyan'" in mismatch.message
    no_account = identity_problem("100042", None)
    assert no_account is not None and "uid 100042" in no_account.message
