"""GET jobs/{id} for a pending job: why it waits, in plain words, and its place in line, from one
cached priority listing shared by every client."""

from __future__ import annotations

from slurm_lab.errors import ControllerUnavailable

from .fake import FakeScheduler
from .support import Api


async def test_a_pending_job_says_why_and_where_it_stands(api: Api, fake: FakeScheduler) -> None:
    reply = await api("GET", "jobs", "17")
    assert reply.code == 200 and reply.json["fields"]["JobState"] == "PENDING"
    pending = reply.json["pending"]
    assert pending["reason"] == reply.json["fields"]["Reason"]
    assert pending["reason"] == "JobHeldUser" and pending["action"] == "Release it to let it run."
    assert (pending["rank"], pending["pending_in_partition"]) == (1, 1)  # alone in "long"
    first = (await api("GET", "jobs", "18")).json["pending"]  # the second of six in "debug"
    assert (first["rank"], first["pending_in_partition"], first["expected_start"]) == (2, 6, None)
    # Many clients, many jobs: one priority listing per window.
    for job_id in ("17", "19", "17", "19"):
        assert (await api("GET", "jobs", job_id)).code == 200
    assert fake.calls["priorities"] == 1


async def test_a_running_job_has_no_pending_object(api: Api) -> None:
    reply = await api("GET", "jobs", "20_1")
    assert reply.code == 200 and reply.json["pending"] is None


async def test_the_place_in_line_is_a_bonus_when_priorities_fail(api: Api, fake: FakeScheduler) -> None:
    fake.fail_next("priorities", ControllerUnavailable("sprio: no answer"))
    reply = await api("GET", "jobs", "17")
    assert reply.code == 200
    assert reply.json["pending"]["explanation"] and reply.json["pending"]["rank"] is None


async def test_the_listing_explains_each_pending_reason_once(api: Api) -> None:
    body = (await api("GET", "jobs", params={"scope": "all"})).json
    assert set(body["explanations"]) == {j["reason"] for j in body["jobs"] if j["state"] == "PENDING"}
    assert body["explanations"]["JobHeldUser"]["action"] == "Release it to let it run."
