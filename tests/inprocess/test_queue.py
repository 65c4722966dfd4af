"""GET jobs through the real handler, service, queue and caches: stale data after a failure, ETags
and 304s, the controller guard, filters and the identity check; only the scheduler is fake."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from slurm_lab.errors import ControllerUnavailable, UnexpectedOutput
from slurm_lab.service import SlurmLabService

from .fake import FakeScheduler
from .support import RETRY_AFTER, Api, past_window

ALL = {"scope": "all"}


async def test_listing_is_the_captured_queue_and_mine_is_the_users(api: Api, fake: FakeScheduler) -> None:
    everyone = await api("GET", "jobs", params=ALL)
    assert everyone.code == 200 and everyone.headers["Content-Type"] == "application/json"
    body = everyone.json
    assert [j["job_id"] for j in body["jobs"]] == ["19", "18", "16", "15_[1-5]", "11_[0]", "2", "14", "17"]
    assert body["stale"] is False and body["fetched_at"].endswith("Z")
    assert body["jobs"][0]["name"] == "x\x1fy\x1f\x1f"  # another user's hostile name, as JSON text
    mine = (await api("GET", "jobs")).json  # scope defaults to mine
    assert {j["user"] for j in mine["jobs"]} == {"slab-alice"} and len(mine["jobs"]) == 5
    assert fake.calls["list_jobs"] == 2  # one squeue per scope


async def test_filters_share_one_fetch(api: Api, fake: FakeScheduler) -> None:
    running = await api("GET", "jobs", params={"scope": "all", "state": "R"})
    long = await api("GET", "jobs", params={"scope": "all", "partition": "long"})
    assert [j["job_id"] for j in running.json["jobs"]] == ["14"]
    assert [j["job_id"] for j in long.json["jobs"]] == ["17"]
    assert running.headers["ETag"] != long.headers["ETag"]
    assert fake.calls["list_jobs"] == 1  # both cut from the same cached listing
    bad = await api("GET", "jobs", params={"state": "SLEEPING"})
    assert bad.code == 400 and bad.json["reason"] == "invalid_input" and bad.json["field"] == "state"
    assert fake.calls["list_jobs"] == 1


async def test_a_parse_failure_serves_the_last_good_listing_stale_then_recovers(
    api: Api, fake: FakeScheduler, service: SlurmLabService
) -> None:
    good = await api("GET", "jobs", params=ALL)
    assert good.code == 200
    fake.fail_next("list_jobs", UnexpectedOutput("squeue printed 3 records slurm-lab cannot read"))
    await past_window()

    # Past the window, the cached listing is still answered at once while one refresh runs.
    during = await api("GET", "jobs", params=ALL)
    assert during.code == 200 and during.json == good.json
    await service.queue.cache.settled()

    stale = await api("GET", "jobs", params=ALL)
    # The refresh failed: the error's status, with the last good jobs marked stale and the
    # error's message and reason.
    assert stale.code == 502
    assert stale.json["stale"] is True and stale.json["jobs"] == good.json["jobs"]
    assert stale.json["fetched_at"] == good.json["fetched_at"]  # when those data were true
    assert stale.json["reason"] == "unexpected_output"
    assert stale.json["message"] == "squeue printed 3 records slurm-lab cannot read"
    assert "ETag" not in stale.headers and "Retry-After" not in stale.headers
    assert fake.calls["list_jobs"] == 2

    # The failure is remembered for the window: the same answer without asking Slurm again.
    again = await api("GET", "jobs", params=ALL)
    assert again.code == 502 and again.json["stale"] is True
    assert fake.calls["list_jobs"] == 2

    # A stale listing is no revalidation: it never answers 304, even to the good data's ETag.
    revalidate = await api("GET", "jobs", params=ALL, headers={"If-None-Match": good.headers["ETag"]})
    assert revalidate.code == 502 and revalidate.json["stale"] is True

    # Stale until a refresh succeeds; the read past the window starts that refresh.
    await past_window()
    assert (await api("GET", "jobs", params=ALL)).json["stale"] is True
    await service.queue.cache.settled()
    fresh = await api("GET", "jobs", params=ALL)
    assert fresh.code == 200 and fresh.json["stale"] is False and "reason" not in fresh.json
    assert fresh.headers["ETag"] == good.headers["ETag"]  # the same jobs
    assert fresh.json["fetched_at"] > good.json["fetched_at"]
    assert fake.calls["list_jobs"] == 3


async def test_a_failure_with_nothing_to_serve_is_the_error_alone(api: Api, fake: FakeScheduler) -> None:
    fake.fail_next("list_jobs", UnexpectedOutput("squeue printed nothing slurm-lab can read"))
    reply = await api("GET", "jobs")
    assert reply.code == 502
    assert reply.json == {
        "message": "squeue printed nothing slurm-lab can read",
        "reason": "unexpected_output",
    }


async def test_etag_revalidates_to_304_until_the_queue_changes(
    api: Api, fake: FakeScheduler, service: SlurmLabService
) -> None:
    first = await api("GET", "jobs", params=ALL)
    etag = first.headers["ETag"]
    assert first.code == 200 and etag.startswith('"') and etag.endswith('"')

    cached = await api("GET", "jobs", params=ALL, headers={"If-None-Match": etag})
    assert cached.code == 304 and cached.body == b""
    assert fake.calls["list_jobs"] == 1

    # A new squeue with the same jobs: the ETag covers the jobs, not when they were fetched.
    await past_window()
    await api("GET", "jobs", params=ALL)  # answered from the cache; starts the refresh
    await service.queue.cache.settled()
    refreshed = await api("GET", "jobs", params=ALL, headers={"If-None-Match": etag})
    assert refreshed.code == 304 and refreshed.body == b""
    assert fake.calls["list_jobs"] == 2

    fake.set_state("17", "RUNNING", None)  # the scheduler started a job
    await past_window()
    unchanged = await api("GET", "jobs", params=ALL, headers={"If-None-Match": etag})
    assert unchanged.code == 304  # nobody waits for Slurm: the refresh runs meanwhile
    await service.queue.cache.settled()
    changed = await api("GET", "jobs", params=ALL, headers={"If-None-Match": etag})
    assert changed.code == 200 and changed.headers["ETag"] != etag
    assert next(j for j in changed.json["jobs"] if j["job_id"] == "17")["state"] == "RUNNING"
    assert fake.calls["list_jobs"] == 3


async def test_our_own_change_is_seen_at_once_not_after_the_window(
    api: Api, fake: FakeScheduler, service: SlurmLabService
) -> None:
    service.queue.cache.ttl = 60.0  # a window no test waits out
    before = await api("GET", "jobs", params=ALL)
    cancel = await api("POST", "jobs", "actions", body={"action": "cancel", "job_ids": ["17"]})
    assert cancel.code == 200
    after = await api("GET", "jobs", params=ALL, headers={"If-None-Match": before.headers["ETag"]})
    assert after.code == 200
    assert next(j for j in after.json["jobs"] if j["job_id"] == "17")["state"] == "CANCELLED"
    assert fake.calls["list_jobs"] == 2


async def test_concurrent_clients_share_one_squeue(api: Api, fake: FakeScheduler) -> None:
    fake.slow("list_jobs", 0.1)
    replies = await asyncio.gather(*(api("GET", "jobs", params=ALL) for _ in range(8)))
    assert {r.code for r in replies} == {200}
    assert len({r.headers["ETag"] for r in replies}) == 1
    assert fake.calls["list_jobs"] == 1


async def test_a_frozen_controller_answers_503_quickly_with_stale_data(
    api: Api, fake: FakeScheduler, service: SlurmLabService
) -> None:
    good = await api("GET", "jobs", params=ALL)
    fake.slow("list_jobs", math.inf)  # squeue hangs: slurmctld is frozen
    fake.probe_problem = ControllerUnavailable(
        "Slurm controller unavailable: Unable to contact slurm controller"
    )
    await past_window()

    # Nobody waits: the last listing is answered at once while the refresh hangs.
    started = time.monotonic()
    during = await api("GET", "jobs", params=ALL)
    assert during.code == 200 and during.json == good.json and time.monotonic() - started < 0.3
    await service.queue.cache.settled()
    took = time.monotonic() - started
    assert 0.4 < took < 1.5  # the guard probes after 0.5 s instead of waiting out squeue

    down = await api("GET", "jobs", params=ALL)
    assert down.code == 503 and down.headers["Retry-After"] == str(RETRY_AFTER)
    assert down.json["reason"] == "controller_unavailable" and down.json["stale"] is True
    assert down.json["jobs"] == good.json["jobs"]
    await asyncio.sleep(0.01)
    assert fake.cancelled["list_jobs"] == 1  # the hung squeue was killed, not left running
    assert service.guard.down

    # Known down: the next refresh asks the probe first and never starts squeue.
    await past_window()
    started = time.monotonic()
    again = await api("GET", "jobs", params=ALL)
    assert again.code == 503 and time.monotonic() - started < 0.3
    await service.queue.cache.settled()
    assert time.monotonic() - started < 0.4
    assert fake.calls["list_jobs"] == 2

    # The controller is back: stale until the refresh that the next read starts has landed.
    fake.probe_problem = None
    fake.slow("list_jobs", 0)
    await past_window()
    assert (await api("GET", "jobs", params=ALL)).json["stale"] is True
    await service.queue.cache.settled()
    up = await api("GET", "jobs", params=ALL)
    assert up.code == 200 and up.json["stale"] is False and not service.guard.down


async def test_a_down_controller_with_nothing_cached_is_a_plain_503(api: Api, fake: FakeScheduler) -> None:
    fake.slow("list_jobs", math.inf)
    fake.probe_problem = ControllerUnavailable("Slurm controller unavailable: Connection refused")
    reply = await api("GET", "jobs")
    assert reply.code == 503 and reply.headers["Retry-After"] == str(RETRY_AFTER)
    assert reply.json == {
        "message": "Slurm controller unavailable: Connection refused",
        "reason": "controller_unavailable",
    }
    status = await api("GET", "status")  # the status endpoint says so instead of failing
    assert status.code == 200 and status.json["controller"] == "down"


@pytest.mark.parametrize("lab_config", [{"check_hub_user": True}])
@pytest.mark.parametrize("lab_env", [{"JUPYTERHUB_USER": "slab-carol"}])
async def test_a_hub_user_slurm_does_not_know_sees_no_one_elses_jobs(api: Api, fake: FakeScheduler) -> None:
    mine = await api("GET", "jobs")
    assert mine.code == 403 and mine.json["reason"] == "unknown_user"
    assert mine.json["hub_user"] == "slab-carol" and mine.json["user"] == "slab-alice"
    submit = await api("POST", "jobs", body={"script": "#!/bin/sh\ntrue\n"})
    act = await api("POST", "jobs", "actions", body={"action": "cancel", "job_ids": ["14"]})
    assert submit.code == act.code == 403
    assert fake.calls["list_jobs"] == fake.calls["submit"] == fake.calls["act"] == 0
    everyone = await api("GET", "jobs", params=ALL)  # the whole queue is anyone's to see
    assert everyone.code == 200
    status = await api("GET", "status")
    assert status.code == 200 and "slab-carol" in status.json["identity_error"]
