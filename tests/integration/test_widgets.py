"""The queue manager widget's state against the real cluster: refresh, filters, selection, actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from slurm_lab.cells.records import RunStore
from slurm_lab.cells.session import Session
from slurm_lab.cells.widgets import QueueManager
from slurm_lab.config import SlurmLab
from slurm_lab.devcluster import DevCluster


@pytest.fixture
def session(cluster: DevCluster, tmp_path: Path):
    lab = SlurmLab(slurm_conf=str(cluster.layout.conf), cache_ttl=30)
    s = Session(lab, RunStore(tmp_path))
    yield s
    s.close()


def submit_held(session: Session, name: str) -> str:
    return session.call(
        session.service.scheduler.submit(b"#!/bin/sh\ntrue\n", ["--hold", f"--job-name={name}"])
    ).job_id


def test_queue_manager_lists_filters_and_acts(session: Session) -> None:
    job = submit_held(session, "<b>qm-test</b>")
    manager = QueueManager(session, auto=False)
    ids = [value for _, value in manager.jobs.options]
    assert job in ids
    label = next(label for label, value in manager.jobs.options if value == job)
    assert "PENDING" in label and "<b>qm-test</b>" in label  # plain text option, never HTML
    manager.state.value = "RUNNING"
    assert job not in [v for _, v in manager.jobs.options]
    manager.state.value = "PENDING"
    manager.jobs.value = (job,)

    manager.release_button.click()
    assert f"{job}: ok" in manager.message.value
    manager.hold_button.click()
    assert f"{job}: ok" in manager.message.value
    assert manager.jobs.value == (job,)  # selection survives a refresh

    manager.cancel_button.click()  # first click only asks to confirm
    assert manager.cancel_button.description == "Confirm cancel (1)"
    assert session.call(session.service.scheduler.job_details(job)).fields["JobState"] == "PENDING"
    manager.cancel_button.click()
    assert session.call(session.service.scheduler.job_details(job)).fields["JobState"] == "CANCELLED"
    manager.state.value = "CANCELLED"
    assert job in [v for _, v in manager.jobs.options]


def test_many_widgets_share_one_squeue(session: Session) -> None:
    managers = [QueueManager(session, auto=False) for _ in range(5)]
    before = session.queue.cache.fetches
    for m in managers:
        m.refresh()
    assert session.queue.cache.fetches == before  # all served by the cached listing
    managers[0].scope.value = "all"  # another scope: one more fetch, shared by the rest
    for m in managers[1:]:
        m.scope.value = "all"
    assert session.queue.cache.fetches == before + 1
