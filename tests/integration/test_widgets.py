"""The queue manager widget's state against the real cluster: refresh, filters, selection, actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from slurm_lab.cells.records import RunStore
from slurm_lab.cells.session import Session
from slurm_lab.cells.widgets import QueueManager
from slurm_lab.config import SlurmLab
from slurm_lab.devcluster import DevCluster
from slurm_lab.frame import history_frame
from tests.helpers import wait_for


@pytest.fixture
def session(cluster: DevCluster, tmp_path: Path):
    lab = SlurmLab(slurm_conf=str(cluster.layout.conf), cache_ttl=30)
    s = Session(lab, RunStore(tmp_path))
    yield s
    s.close()


def slurm_lab_history(session: Session):  # type: ignore[no-untyped-def]
    """What ``slurm_lab.history()`` builds, from this session's service."""
    return history_frame(session.call(session.service.history("mine", "now-1days")).jobs)


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
    # Why it waits, in words, with what to do (Slurm's reason for a held job: JobHeldUser).
    assert "JobHeldUser" in manager.info.value and "Release it to let it run." in manager.info.value

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


def test_queue_manager_and_history_say_how_efficient_a_finished_job_was(session: Session) -> None:
    """A job that held 1 GB and 10 minutes for a 3 s sleep: the widget and the DataFrame say so,
    with the right-size advice; both agree with sacct."""
    job = session.call(
        session.service.scheduler.submit(
            b"#!/bin/sh\nsleep 3\n", ["--mem=1G", "--time=10", "--output=/dev/null"]
        )
    ).job_id

    manager = QueueManager(session, auto=False)
    manager.state.value = "COMPLETED"

    def listed_completed() -> bool:
        session.queue.invalidate()
        manager.refresh()
        return job in [v for _, v in manager.jobs.options]

    # Selected as soon as the queue says COMPLETED, maybe before slurmdbd has the job: the widget
    # asks accounting again with each refresh until it has, and then says how efficient it was.
    wait_for(listed_completed, timeout=60, interval=0.5, what="the job listed as COMPLETED")
    manager.jobs.value = (job,)

    def explained() -> bool:
        session.service._efficiency.invalidate()  # its window (30 s here) would hide the record
        manager.refresh()
        return f"{job}: CPU " in manager.info.value

    wait_for(explained, timeout=60, interval=1, what="the widget to show the job's efficiency")
    assert "--time=5" in manager.info.value
    frame = slurm_lab_history(session)
    assert frame.loc[job, "time_efficiency"] == pytest.approx(3 / 600, abs=0.01)
    assert "--time=5" in frame.loc[job, "suggest"]


def test_queue_manager_follows_pushed_changes(cluster: DevCluster, tmp_path: Path) -> None:
    """With auto, the widget redraws when the feed pushes a change, not on a timer of its own."""
    session = Session(
        SlurmLab(slurm_conf=str(cluster.layout.conf), cache_ttl=1, push_interval=1), RunStore(tmp_path)
    )
    try:
        manager = QueueManager(session)
        job = submit_held(session, "followed")  # behind the service's back: only a refresh sees it
        wait_for(lambda: job in [v for _, v in manager.jobs.options], timeout=10, what="the pushed job")
        session.call(session.service.scheduler.act("cancel", [job]))
        wait_for(
            lambda: any(v == job and "CANCELLED" in label for label, v in manager.jobs.options),
            timeout=10,
            what="the pushed cancel",
        )
        assert session.service.feed.messages >= 3  # snapshot, then one delta per change
        manager.close()
        wait_for(lambda: not any(c.subscribers for c in session.service.feed._channels.values()), timeout=5)
    finally:
        session.close()
