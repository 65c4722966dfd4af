"""Idempotency store, output decoding, OpenAPI consistency, config help texts."""

from __future__ import annotations

import asyncio
import re
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from slurm_lab import handlers, validation
from slurm_lab.backends.cli import _decode_whole_chars
from slurm_lab.config import SlurmLab
from slurm_lab.errors import IdempotencyConflict
from slurm_lab.idempotency import IdempotencyStore
from slurm_lab.models import SubmitResult


@pytest.mark.asyncio
async def test_idempotency_store_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "idem.jsonl"
    calls = []

    async def submit() -> SubmitResult:
        calls.append(1)
        await asyncio.sleep(0.01)
        return SubmitResult(str(100 + len(calls)))

    store = IdempotencyStore(path, ttl=60)
    results = await asyncio.gather(*(store.submit_once("k", "fp", submit) for _ in range(5)))
    assert {r.job_id for r, _ in results} == {"101"} and len(calls) == 1
    assert sorted(replayed for _, replayed in results) == [False, True, True, True, True]
    again = IdempotencyStore(path, ttl=60)  # a restarted server
    assert await again.submit_once("k", "fp", submit) == (SubmitResult("101"), True)
    with pytest.raises(IdempotencyConflict):
        await again.submit_once("k", "other body", submit)
    assert path.stat().st_mode & 0o077 == 0


def test_decode_leaves_a_cut_character_for_the_next_read() -> None:
    data = "héllo €".encode()
    assert _decode_whole_chars(data) == ("héllo €", len(data))
    assert _decode_whole_chars(data[:-1]) == ("héllo ", len(data) - 3)


def test_openapi_documents_every_route_and_option() -> None:
    spec = yaml.safe_load(files("slurm_lab").joinpath("openapi.yaml").read_text())
    documented = set(spec["paths"])
    for pattern, _ in handlers.api_handlers():
        path = "/" + pattern.split("/slurm-lab/api/", 1)[1]
        path = re.sub(r"\(\?P<job_id>[^)]*\)", "{job_id}", path)
        for concrete in re.sub(r"\(\?P<action>([^)]*)\)", r"\1", path).split("|"):
            assert any(concrete.endswith(d.rsplit("/", 1)[-1]) for d in documented), concrete
    options = set(spec["components"]["schemas"]["SubmitOptions"]["properties"])
    assert options == set(validation.SBATCH_OPTIONS)
    reasons = set(spec["components"]["schemas"]["Error"]["properties"]["reason"]["enum"])
    assert reasons == {cls.reason for cls in handlers.STATUS}


def test_every_setting_has_a_help_text_with_default_and_example() -> None:
    for name, trait in SlurmLab.class_traits(config=True).items():
        assert "Default:" in trait.help and "Example:" in trait.help, name


def test_identity_problem_names_hub_user_and_account() -> None:
    from slurm_lab.identity import identity_problem

    assert identity_problem("alice", None) is None
    assert identity_problem("alice", "alice") is None
    mismatch = identity_problem("jovyan", "alice")
    assert mismatch is not None and "'alice'" in mismatch.message and "'jovyan'" in mismatch.message
    no_account = identity_problem("100042", None)
    assert no_account is not None and "uid 100042" in no_account.message
