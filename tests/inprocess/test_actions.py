"""Cancel, hold and release through the real handlers: a batch reports each id's outcome in order,
one job's refusal becomes its typed status; token auth needs no XSRF token for these POSTs."""

from __future__ import annotations

import pytest

from slurm_lab.errors import (
    ControllerUnavailable,
    InvalidInput,
    JobFinished,
    JobNotFound,
    PermissionDenied,
    SlurmLabError,
)

from .fake import FakeScheduler
from .support import Api


async def test_a_batch_reports_every_outcome_in_order(api: Api, fake: FakeScheduler) -> None:
    fake.refuse("17", PermissionDenied("Slurm denied the request: Access/permission denied"))
    fake.refuse("99", JobNotFound("no such job (Slurm: Invalid job id specified)"))
    ids = ["14", "17", "15_[1-5%2]", "99", "16"]
    reply = await api("POST", "jobs", "actions", body={"action": "cancel", "job_ids": ids})

    # Partial failure is a 200: the body says, per id, what happened.
    assert reply.code == 200
    assert reply.json == {
        "results": [
            {"job_id": "14", "ok": True, "message": "", "reason": ""},
            {
                "job_id": "17",
                "ok": False,
                "message": "Slurm denied the request: Access/permission denied",
                "reason": "permission_denied",
            },
            {"job_id": "15_[1-5]", "ok": True, "message": "", "reason": ""},
            {
                "job_id": "99",
                "ok": False,
                "message": "no such job (Slurm: Invalid job id specified)",
                "reason": "job_not_found",
            },
            {"job_id": "16", "ok": True, "message": "", "reason": ""},
        ]
    }
    # One scheduler call for the batch, with the ids validated (a %2 throttle is not an id's).
    assert fake.actions == [("cancel", ["14", "17", "15_[1-5]", "99", "16"])]


async def test_a_batch_with_one_bad_id_acts_on_none(api: Api, fake: FakeScheduler) -> None:
    body = {"action": "hold", "job_ids": ["14", "17", "4294967296", "16"]}  # 2**32: beyond Slurm's ids
    reply = await api("POST", "jobs", "actions", body=body)
    assert reply.code == 400
    assert reply.json["reason"] == "invalid_input" and reply.json["field"] == "job_ids[2]"
    assert fake.calls["act"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"action": "requeue", "job_ids": ["14"]},
        {"action": "cancel", "job_ids": []},
        {"action": "cancel", "job_ids": "14"},
        {"action": "cancel", "job_ids": ["14; scancel -u alice"]},
        {"action": "cancel", "job_ids": ["-u alice"]},
    ],
)
async def test_malformed_batches_are_refused_before_slurm(api: Api, fake: FakeScheduler, body: dict) -> None:  # type: ignore[type-arg]
    reply = await api("POST", "jobs", "actions", body=body)
    assert reply.code == 400 and reply.json["reason"] == "invalid_input"
    assert fake.calls["act"] == 0


async def test_a_batch_fails_whole_when_the_controller_is_down(api: Api, fake: FakeScheduler) -> None:
    fake.fail_next("act", ControllerUnavailable("Slurm controller unavailable: Connection refused"))
    reply = await api("POST", "jobs", "actions", body={"action": "release", "job_ids": ["14", "17"]})
    assert reply.code == 503 and reply.headers["Retry-After"] == "7"
    assert reply.json["reason"] == "controller_unavailable"


@pytest.mark.parametrize(
    ("refusal", "status", "reason"),
    [
        (JobFinished("the job has already finished"), 409, "job_finished"),
        (JobNotFound("no such job (Slurm: Invalid job id specified)"), 404, "job_not_found"),
        (PermissionDenied("Slurm denied the request: Access/permission denied"), 403, "permission_denied"),
        (SlurmLabError("a reason slurm-lab does not know"), 502, "command_failed"),
    ],
)
async def test_one_jobs_refusal_is_its_typed_status(
    api: Api, fake: FakeScheduler, refusal: SlurmLabError, status: int, reason: str
) -> None:
    fake.refuse("17", refusal)
    hold = await api("POST", "jobs", "17", "hold")
    assert hold.code == status
    assert hold.json == {"message": refusal.message, "reason": reason}
    cancel = await api("DELETE", "jobs", "17")
    assert cancel.code == status and cancel.json["reason"] == reason
    assert fake.actions == [("hold", ["17"]), ("cancel", ["17"])]


async def test_one_job_done_is_its_result_or_no_content(api: Api, fake: FakeScheduler) -> None:
    hold = await api("POST", "jobs", "15_[1-5]", "hold")  # a collapsed row, percent-encoded in the URL
    assert hold.code == 200
    assert hold.json == {"job_id": "15_[1-5]", "ok": True, "message": "", "reason": ""}
    release = await api("POST", "jobs", "15_[1-5]", "release")
    assert release.code == 200 and release.json["ok"] is True
    cancel = await api("DELETE", "jobs", "14")
    assert cancel.code == 204 and cancel.body == b""
    assert fake.actions == [("hold", ["15_[1-5]"]), ("release", ["15_[1-5]"]), ("cancel", ["14"])]
    assert fake.job("14").state == "CANCELLED"


async def test_an_invalid_input_refusal_from_a_scheduler_is_a_400_not_a_crash(
    api: Api, fake: FakeScheduler
) -> None:
    """The seam takes site-specific schedulers, which may refuse one id with any reason STATUS
    knows; InvalidInput is the one error class not built from a message alone."""
    fake.refuse("17", InvalidInput("job_id", "task 9 is not part of this array"))
    reply = await api("POST", "jobs", "17", "hold")
    assert reply.code == 400
    assert reply.json["reason"] == "invalid_input" and reply.json["field"] == "job_id"
    assert "task 9 is not part of this array" in reply.json["message"]
