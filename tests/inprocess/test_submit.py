"""POST jobs through the real handler, service and idempotency store: a retried submit never makes
a second job, whether the first answered, is still running, or ended with an unknown outcome."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from slurm_lab.errors import CommandTimeout, ControllerUnavailable, SlurmRejected
from slurm_lab.service import SlurmLabService

from .fake import FakeScheduler
from .support import Api

SCRIPT = "#!/bin/sh\n#SBATCH --comment=from-the-script\necho hello\n"
BODY = {"script": SCRIPT, "options": {"partition": "debug", "time": "5"}, "idempotency_key": "nb-7f3a:1"}


async def test_a_submit_reaches_slurm_once_with_validated_flags(api: Api, fake: FakeScheduler) -> None:
    reply = await api("POST", "jobs", body={"script": SCRIPT, "options": {"partition": "debug"}})
    assert reply.code == 201 and reply.json == {"job_id": "1001"}
    assert reply.headers["Location"] == "/a%40b/slurm-lab/api/jobs/1001"
    assert "Idempotent-Replayed" not in reply.headers
    (made,) = fake.submits
    assert made.script == SCRIPT.encode() and made.flags == ["--partition=debug"] and made.tag is None
    listing = await api("GET", "jobs")  # the new job is listed at once (the submit invalidated)
    assert "1001" in [j["job_id"] for j in listing.json["jobs"]]


async def test_the_same_key_and_body_twice_is_one_job_and_a_replay(
    api: Api, fake: FakeScheduler, tmp_path: Path
) -> None:
    first = await api("POST", "jobs", body=BODY)
    second = await api("POST", "jobs", body=BODY)
    assert first.code == second.code == 201
    assert first.json == second.json == {"job_id": "1001"}
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert fake.calls["submit"] == 1
    (made,) = fake.submits
    assert made.flags == ["--partition=debug", "--time=5"]
    assert made.tag is not None and made.tag.startswith("slurm-lab:")  # for find_submitted
    # Kept on disk (0600) for a restarted server: the key, its body's digest and the job.
    records = [json.loads(line) for line in (tmp_path / "idempotency.jsonl").read_text().splitlines()]
    assert records[-1]["key"] == "nb-7f3a:1" and records[-1]["job_id"] == "1001"
    assert (tmp_path / "idempotency.jsonl").stat().st_mode & 0o077 == 0


async def test_the_same_key_with_another_body_is_a_409(api: Api, fake: FakeScheduler) -> None:
    assert (await api("POST", "jobs", body=BODY)).code == 201
    other = {**BODY, "script": SCRIPT.replace("hello", "bye")}
    reply = await api("POST", "jobs", body=other)
    assert reply.code == 409 and reply.json["reason"] == "idempotency_conflict"
    assert "different submission" in reply.json["message"]
    other_options = {**BODY, "options": {"partition": "long", "time": "5"}}
    assert (await api("POST", "jobs", body=other_options)).code == 409
    assert fake.calls["submit"] == 1


async def test_a_retry_with_the_options_in_another_order_is_a_replay(api: Api, fake: FakeScheduler) -> None:
    assert (await api("POST", "jobs", body=BODY)).code == 201
    reordered = {**BODY, "options": {"time": "5", "partition": "debug"}}
    retry = await api("POST", "jobs", body=reordered)
    assert retry.code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert fake.calls["submit"] == 1


async def test_concurrent_retries_wait_for_the_first_and_replay_it(api: Api, fake: FakeScheduler) -> None:
    fake.slow("submit", 0.2)  # sbatch still running when the client retries
    replies = await asyncio.gather(*(api("POST", "jobs", body=BODY) for _ in range(4)))
    assert {r.code for r in replies} == {201} and {r.json["job_id"] for r in replies} == {"1001"}
    assert sorted(r.headers.get("Idempotent-Replayed", "no") for r in replies) == [
        "no",
        "true",
        "true",
        "true",
    ]
    assert fake.calls["submit"] == 1


async def test_an_unknown_outcome_is_looked_up_before_any_new_submit(
    api: Api, fake: FakeScheduler, service: SlurmLabService
) -> None:
    # sbatch made the job, then timed out against a frozen controller: nobody knows the outcome.
    fake.fail_next("submit", CommandTimeout("sbatch did not answer within 30 s"), after=True)
    lost = await api("POST", "jobs", body=BODY)
    assert lost.code == 504 and lost.json["reason"] == "command_timeout"
    assert lost.json["outcome"] == "unknown"
    assert "retry with the same idempotency_key" in lost.json["message"]
    assert fake.calls["submit"] == 1
    (made,) = fake.submits

    retry = await api("POST", "jobs", body=BODY)
    assert retry.code == 201 and retry.json == {"job_id": made.job_id}
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert fake.calls["find_submitted"] == 1 and fake.calls["submit"] == 1  # looked up, not resubmitted

    # Found once, remembered: a third try needs no lookup either.
    third = await api("POST", "jobs", body=BODY)
    assert third.json == {"job_id": made.job_id} and fake.calls["find_submitted"] == 1


async def test_an_unknown_outcome_slurm_has_no_job_for_is_submitted_again(
    api: Api, fake: FakeScheduler
) -> None:
    fake.fail_next("submit", CommandTimeout("sbatch did not answer within 30 s"))  # before making a job
    assert (await api("POST", "jobs", body=BODY)).json["outcome"] == "unknown"
    retry = await api("POST", "jobs", body=BODY)
    assert retry.code == 201 and "Idempotent-Replayed" not in retry.headers
    assert fake.calls["find_submitted"] == 1 and fake.calls["submit"] == 2
    assert len(fake.submits) == 1 and fake.submits[0].job_id == retry.json["job_id"]


async def test_an_unknown_outcome_older_than_slurm_remembers_is_a_409(api: Api, fake: FakeScheduler) -> None:
    fake.min_age = 0.0  # MinJobAge passed: "not found" no longer proves there is no job
    fake.fail_next("submit", CommandTimeout("sbatch did not answer within 30 s"))
    assert (await api("POST", "jobs", body=BODY)).code == 504
    retry = await api("POST", "jobs", body=BODY)
    assert retry.code == 409 and retry.json["reason"] == "idempotency_conflict"
    assert "unknown outcome" in retry.json["message"] and "new key" in retry.json["message"]
    assert fake.calls["submit"] == 1


async def test_a_refused_submit_frees_its_key(api: Api, fake: FakeScheduler) -> None:
    fake.fail_next("submit", SlurmRejected("Requested time limit is invalid (missing or exceeds some limit)"))
    refused = await api("POST", "jobs", body=BODY)
    assert refused.code == 400 and refused.json["reason"] == "slurm_rejected"
    assert "outcome" not in refused.json  # Slurm said no: no job exists
    retry = await api("POST", "jobs", body=BODY)
    assert retry.code == 201 and "Idempotent-Replayed" not in retry.headers
    assert fake.calls["submit"] == 2 and fake.calls["find_submitted"] == 0


async def test_a_submit_while_the_controller_is_known_down_never_starts_sbatch(
    api: Api, fake: FakeScheduler, service: SlurmLabService
) -> None:
    service.guard.down = True  # a read just found the controller down
    fake.probe_problem = ControllerUnavailable("Slurm controller unavailable: Connection refused")
    down = await api("POST", "jobs", body=BODY)
    assert down.code == 503 and down.headers["Retry-After"] == "7"
    assert "outcome" not in down.json  # sbatch never ran: nothing to look up later
    assert fake.calls["submit"] == 0
    fake.probe_problem = None
    retry = await api("POST", "jobs", body=BODY)
    assert retry.code == 201 and "Idempotent-Replayed" not in retry.headers
    assert fake.calls["submit"] == 1 and fake.calls["find_submitted"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"script": ""}, "script"),
        ({"script": SCRIPT, "options": {"partition": "debug; rm -rf ~"}}, "options.partition"),
        ({"script": SCRIPT, "options": {"wrap": "id"}}, "options.wrap"),
        ({"script": SCRIPT, "idempotency_key": "has space"}, "idempotency_key"),
        ({"script": SCRIPT, "priority": 1}, "priority"),
        ({"script": "#!/bin/sh\n\x00\n"}, "script"),
    ],
)
async def test_invalid_submits_are_400_naming_the_field(
    api: Api,
    fake: FakeScheduler,
    body: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    reply = await api("POST", "jobs", body=body)
    assert reply.code == 400 and reply.json["reason"] == "invalid_input" and reply.json["field"] == field
    assert fake.calls["submit"] == 0


async def test_a_body_that_is_not_a_json_object_is_a_400(api: Api, fake: FakeScheduler) -> None:
    for raw in (b"{not json", b"[1, 2]", b""):
        reply = await api("POST", "jobs", body=raw)
        assert reply.code == 400 and reply.json["field"] == "body"
    assert fake.calls["submit"] == 0
