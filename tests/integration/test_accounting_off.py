"""The quick mode, ``--accounting off`` (no slurmdbd), on a cluster of its own: history comes from
the job-completion log (source "jobcomp"), a finished job's details stand without efficiency, and
what needs accounting says it is disabled (501) instead of answering empty."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from slurm_lab import handlers
from slurm_lab.config import SlurmLab
from slurm_lab.devcluster import DevCluster
from slurm_lab.errors import AccountingDisabled
from slurm_lab.models import History
from slurm_lab.validation import since
from tests.helpers import SERVER_USER, lab_server, wait_for
from tests.own_cluster import own_cluster

DISABLED = "Slurm accounting is disabled on this cluster"


@pytest.fixture(scope="module")
def quick() -> Iterator[DevCluster]:
    with own_cluster("devcluster-quick", 20817, accounting=False) as cluster:
        yield cluster


def test_history_comes_from_the_job_completion_log(quick: DevCluster) -> None:
    assert "AccountingStorageType=accounting_storage/none" in quick.layout.conf.read_text()
    with lab_server(quick) as srv, srv.client() as api:
        r = api.post("jobs", json={"script": "#!/bin/sh\ntrue\n", "options": {"job_name": "jobcomp-me", "output": "/dev/null"}})  # fmt: skip
        assert r.status_code == 201, r.text
        job_id = str(r.json()["job_id"])

        def in_history() -> dict | None:
            r = api.get("history", params={"since": "now-1hours"})
            assert r.status_code == 200, r.text
            return r.json() if job_id in {j["job_id"] for j in r.json()["jobs"]} else None

        body = wait_for(in_history, timeout=30, what="the job in the history")
        assert body["source"] == "jobcomp"
        assert body["message"] == f"{DISABLED}; showing the job-completion log"
        job = next(j for j in body["jobs"] if j["job_id"] == job_id)
        assert (job["name"], job["user"], job["state"]) == ("jobcomp-me", SERVER_USER, "COMPLETED")
        assert job["end_time"] and job["efficiency"] is None

        details = api.get(f"jobs/{job_id}")
        assert details.status_code == 200, details.text
        assert details.json()["fields"]["JobState"] == "COMPLETED" and details.json()["efficiency"] is None
        account = api.get("account")
        assert account.status_code == 501, account.text
        assert account.json() == {"message": DISABLED, "reason": "accounting_disabled"}

    # The scheduler itself, with no server between (as this process's user).
    async def ask() -> tuple[History, AccountingDisabled, AccountingDisabled]:
        scheduler = SlurmLab(slurm_conf=str(quick.layout.conf)).make_scheduler()
        try:
            history = await scheduler.history("all", since("now-1hours"))
            with pytest.raises(AccountingDisabled) as efficiency:
                await scheduler.efficiency(job_id)
            with pytest.raises(AccountingDisabled) as account:
                await scheduler.account()
            return history, efficiency.value, account.value
        finally:
            await scheduler.close()

    history, efficiency, account = asyncio.run(ask())
    assert history.source == "jobcomp" and job_id in {j.job_id for j in history.jobs}
    assert handlers.status_of(efficiency) == handlers.status_of(account) == 501
