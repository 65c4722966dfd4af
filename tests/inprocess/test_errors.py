"""Typed errors become exactly handlers.STATUS's HTTP status with a JSON {message, reason} body and
never a traceback; unknown routes are a JSON 404; auth is Jupyter's; the other read endpoints."""

from __future__ import annotations

import pytest

from slurm_lab import handlers
from slurm_lab.errors import (
    AccountingDisabled,
    AccountingUnavailable,
    BackendUnavailable,
    CommandFailed,
    CommandTimeout,
    ControllerUnavailable,
    JobNotFound,
    NotSupported,
    OutputRefused,
    PermissionDenied,
    ProgramNotFound,
    SlurmLabError,
    UnexpectedOutput,
)
from slurm_lab.service import SlurmLabService

from .fake import FakeScheduler
from .support import RETRY_AFTER, Api, past_window

ERRORS = [
    (JobNotFound("no such job 17 (Slurm: Invalid job id specified)"), 404),
    (PermissionDenied("Slurm denied the request: Access/permission denied"), 403),
    (OutputRefused("the output path is a FIFO"), 403),  # a subclass: its own row in STATUS
    (NotSupported("the slurmrestd backend cannot do that"), 501),
    (CommandTimeout("scontrol did not answer within 30 s"), 504),
    (BackendUnavailable("munge: Socket communication error"), 503),
    (ProgramNotFound("scontrol: not found on this host"), 503),  # not in STATUS: its base's
    (ControllerUnavailable("Slurm controller unavailable: Connection refused"), 503),
    (AccountingUnavailable("Slurm accounting (slurmdbd) unavailable: Connection refused"), 503),
    (UnexpectedOutput("scontrol show job 17 answered about 18, not job 17"), 502),
    (CommandFailed("scontrol failed (exit 1): no message"), 502),
]


@pytest.mark.parametrize(("error", "status"), ERRORS, ids=[type(e).__name__ for e, _ in ERRORS])
async def test_typed_errors_map_to_http_as_status_says(
    api: Api, fake: FakeScheduler, error: SlurmLabError, status: int
) -> None:
    assert handlers.status_of(error) == status  # the table, and the reply below, agree
    fake.fail_next("job_details", error)
    reply = await api("GET", "jobs", "17")
    assert reply.code == status
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json == {"message": error.message, "reason": error.reason}
    unavailable = isinstance(error, ControllerUnavailable | AccountingUnavailable | BackendUnavailable)
    assert reply.headers.get("Retry-After") == (str(RETRY_AFTER) if unavailable else None)
    assert b"Traceback" not in reply.body and b'File "' not in reply.body


async def test_an_unexpected_exception_is_a_500_that_says_nothing_inside(
    api: Api, fake: FakeScheduler
) -> None:
    fake.fail_next("job_details", KeyError("/etc/slurm/secret.conf"))
    reply = await api("GET", "jobs", "17")
    assert reply.code == 500
    assert reply.json == {"message": "internal error; see the server log", "reason": "internal_error"}
    assert b"secret" not in reply.body


async def test_a_failed_detail_is_remembered_for_the_window_then_asked_again(
    api: Api, fake: FakeScheduler
) -> None:
    fake.fail_next("job_details", CommandTimeout("scontrol did not answer within 30 s"))
    assert (await api("GET", "jobs", "17")).code == 504
    assert (await api("GET", "jobs", "17")).code == 504
    assert fake.calls["job_details"] == 1
    await past_window()
    ok = await api("GET", "jobs", "17")
    assert ok.code == 200 and ok.json["fields"]["JobState"] == "PENDING"
    assert fake.calls["job_details"] == 2


async def test_details_of_captured_records(api: Api, fake: FakeScheduler) -> None:
    reply = await api("GET", "jobs", "20_[2-3]")  # pending tasks collapsed: the array's record
    assert reply.code == 200
    assert reply.json["job_id"] == "20_[2-3]" and reply.json["source"] == "controller"
    assert reply.json["fields"]["ArrayTaskId"] == "2-3" and reply.json["user_id"] == 1001
    task = await api("GET", "jobs", "20_1")
    assert task.json["fields"]["JobId"] == "22" and task.json["fields"]["JobState"] == "RUNNING"
    missing = await api("GET", "jobs", "404")
    assert missing.code == 404 and missing.json["reason"] == "job_not_found"
    bad = await api("GET", "jobs", "0")
    assert bad.code == 400 and bad.json["field"] == "job_id"
    assert fake.calls["job_details"] == 3


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", ("nope",)), ("GET", ("jobs", "17", "requeue")), ("POST", ("jobs", "17", "requeue"))],
)
async def test_unknown_routes_are_a_json_404(api: Api, method: str, path: tuple[str, ...]) -> None:
    # A POST needs no XSRF token here: jp_fetch authenticates with the token header.
    reply = await api(method, *path, body=b"{}" if method == "POST" else None)
    assert reply.code == 404 and reply.headers["Content-Type"] == "application/json"
    assert reply.json == {"message": "no such slurm-lab API route; see openapi.yaml", "reason": "http_error"}


async def test_a_known_route_without_that_verb_is_a_json_405(api: Api) -> None:
    reply = await api("DELETE", "jobs")
    assert reply.code == 405 and reply.json["reason"] == "http_error"


async def test_requests_without_the_token_are_refused(api: Api, fake: FakeScheduler) -> None:
    for method, path in (("GET", ("jobs",)), ("POST", ("jobs", "actions")), ("GET", ("nope",))):
        reply = await api(
            method, *path, headers={"Authorization": "token wrong"}, body=b"{}" if method == "POST" else None
        )
        assert reply.code == 403, (method, path)
        assert b"Traceback" not in reply.body
    assert fake.calls["list_jobs"] == fake.calls["act"] == 0


async def test_status_partitions_history_options(
    api: Api, fake: FakeScheduler, service: SlurmLabService
) -> None:
    status = await api("GET", "status")
    assert status.code == 200
    assert status.json["backend"] == "fake" and status.json["controller"] == "up"
    assert status.json["user"] == "slab-alice" and status.json["identity_error"] is None
    assert status.json["root_dir"] is None  # no host: the cluster's files are not this machine's
    parts = await api("GET", "partitions")
    assert [p["name"] for p in parts.json["partitions"]] == ["debug", "long"]
    history = await api("GET", "history", params={"since": "now-7days"})
    assert history.code == 200 and history.json["source"] == "controller"
    assert [j["job_id"] for j in history.json["jobs"]] == ["9"]
    assert (await api("GET", "history", params={"since": "yesterday"})).code == 400
    options = await api("GET", "options")
    assert "partition" in {o["name"] for o in options.json["options"]}
    fake.fail_next("history", AccountingDisabled("accounting is off and no job-completion log is set"))
    await past_window()
    off = await api("GET", "history", params={"since": "now-7days"})
    assert off.code == 501 and off.json["reason"] == "accounting_disabled"


async def test_output_of_a_job_slurm_forgot_comes_from_the_last_listing(
    api: Api, fake: FakeScheduler
) -> None:
    fake.files_by_path["/tmp/slurm-14.out"] = b"step 1\nstep 2\n"
    assert (await api("GET", "jobs")).code == 200  # the listing that knew job 14's files
    fake.fail_next("job_details", JobNotFound("no such job 14 (Slurm: Invalid job id specified)"))
    reply = await api("GET", "jobs", "14", "output", params={"offset": "7"})
    assert reply.code == 200
    assert reply.json == {
        "job_id": "14",
        "stream": "stdout",
        "path": "/tmp/slurm-14.out",
        "offset": 7,
        "next_offset": 14,
        "size": 14,
        "data": "step 2\n",
    }
    assert fake.reads == [("14", "stdout", "/tmp/slurm-14.out", 1001, 7)]  # read as its owner


async def test_output_needs_a_host_and_pending_tasks_have_none(api: Api, fake: FakeScheduler) -> None:
    no_host = await api("GET", "jobs", "17", "output")
    assert no_host.code == 501 and no_host.json["reason"] == "not_supported"
    assert "reading job output" in no_host.json["message"]
    pending = await api("GET", "jobs", "15_[1-5]", "output", params={"stream": "stderr"})
    assert pending.code == 404 and pending.json["reason"] == "output_not_available"
    assert fake.calls["job_details"] == 1  # the pending tasks were refused without asking Slurm
