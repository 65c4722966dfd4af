"""The watcher of a non-blocking %%slurm cell (CellRun), against a scripted scheduler: it asks
Slurm about its own job alone, lands the outputs as soon as the worker's result file appears,
and takes a job the controller has forgotten for finished."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cloudpickle
import pytest

from slurm_lab.cells import run as run_module
from slurm_lab.cells.records import RunRecord, RunStore
from slurm_lab.cells.run import CellRun, JobEnded
from slurm_lab.errors import InvalidInput, JobNotFound
from slurm_lab.guard import ControllerGuard
from slurm_lab.hosts.local import LocalHost
from slurm_lab.models import JobDetails, JobProgress


class Scheduler:
    """Answers job_progress from ``records`` (a list, or an error to raise); counts every call."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.records: list[JobProgress] | Exception = [JobProgress("7", "PENDING", None, None)]

    async def job_progress(self, job_id: str) -> list[JobProgress]:
        self.calls[f"job_progress {job_id}"] += 1
        if isinstance(self.records, Exception):
            raise self.records
        return self.records

    async def list_jobs(self, scope: str) -> list[Any]:
        self.calls["list_jobs"] += 1
        raise AssertionError("the watcher lists the queue")

    async def probe(self) -> None:
        return None


class Service:
    def __init__(self) -> None:
        self.scheduler = Scheduler()
        self.guard = ControllerGuard(self.scheduler)  # type: ignore[arg-type]
        self.accounted = "CANCELLED"
        self.files_are_local = True

    async def details(self, job_id: str) -> JobDetails:
        self.scheduler.calls["details"] += 1
        return JobDetails(job_id, "accounting", {"JobState": f"{self.accounted} by 0"})


class Session:
    """What CellRun uses of slurm_lab.cells.session.Session: a loop in a thread, a host, records."""

    def __init__(self, folder: Path) -> None:
        self.lab = SimpleNamespace(cache_ttl=3.0)
        self.service = Service()
        self.host = LocalHost()
        self.records = RunStore(folder / "records")
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        return self.spawn(coro).result(timeout)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    s = Session(tmp_path)
    yield s

    async def settle() -> None:  # what is still under way (a confirmation), cancelled
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    s.call(settle(), timeout=5)
    s.loop.call_soon_threadsafe(s.loop.stop)


def record(tmp_path: Path, job_id: str = "7", tasks: list[str] | None = None) -> RunRecord:
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    return RunRecord("r1", job_id, "now", "x = 1", {}, [], ["x"], str(run_dir), "local", tasks)


def finish(tmp_path: Path, name: str = "result.pkl", **outputs: Any) -> None:
    """What the worker does at the end: the result file, written atomically."""
    data = cloudpickle.dumps({"ok": True, "result": 2, "outputs": outputs, "missing": []})
    (tmp_path / "run" / f"{name}.tmp").write_bytes(data)
    (tmp_path / "run" / f"{name}.tmp").replace(tmp_path / "run" / name)


def test_outputs_land_as_soon_as_the_result_appears_asking_slurm_of_this_job_alone(
    session: Session, tmp_path: Path
) -> None:
    namespace: dict[str, Any] = {}
    run = CellRun(session, record(tmp_path), namespace)  # type: ignore[arg-type]
    time.sleep(0.5)
    assert not run.done() and run.state == "PENDING"
    # The job ran meanwhile: Slurm would say so at its next question (a cache window away).
    session.service.scheduler.records = [JobProgress("7", "RUNNING", "2026-01-01T10:00:00", "c1")]
    finish(tmp_path, x=42)
    written = time.monotonic()
    assert run.wait(timeout=5) == {"x": 42}
    assert time.monotonic() - written < 0.25  # the result file, not Slurm, says it is done
    assert namespace["x"] == 42 and run.state == "COMPLETED" and run.result() == 2
    # Once landed, Slurm is asked where it ran (it started and ended between two questions).
    deadline = time.monotonic() + 5
    while run.node is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.node == "c1" and run.started is not None and run.started.hour == 10
    calls = session.service.scheduler.calls
    assert calls == Counter({"job_progress 7": 2})  # the first look and the confirmation, no listing


def test_a_job_the_controller_forgot_has_ended(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_module, "_GRACE", 0.3)
    session.service.scheduler.records = []  # squeue: "Invalid job id specified"
    run = CellRun(session, record(tmp_path), {})  # type: ignore[arg-type]
    with pytest.raises(JobEnded, match="job 7 ended CANCELLED before the cell finished"):
        run.wait(timeout=5)
    assert run.state == "CANCELLED"  # how it ended, from accounting, asked once
    assert session.service.scheduler.calls["details"] == 1


def test_a_slurm_blip_is_no_end(session: Session, tmp_path: Path) -> None:
    session.service.scheduler.records = JobNotFound("surprise")  # not [] : an error, not an answer
    session.lab.cache_ttl = 0.5
    run = CellRun(session, record(tmp_path), {})  # type: ignore[arg-type]
    time.sleep(1.2)
    assert not run.done() and session.service.scheduler.calls["job_progress 7"] >= 2
    finish(tmp_path, x=1)
    assert run.wait(timeout=5) == {"x": 1}


def test_array_results_are_each_read_once(session: Session, tmp_path: Path) -> None:
    run = CellRun(session, record(tmp_path, tasks=["0", "1"]), {})  # type: ignore[arg-type]
    finish(tmp_path, "result-0.pkl", x=0)
    time.sleep(0.2)
    (tmp_path / "run" / "result-0.pkl").write_bytes(b"not a pickle: read once, already")
    finish(tmp_path, "result-1.pkl", x=1)
    assert run.wait(timeout=5) == {"x": {"0": 0, "1": 1}}


def test_only_a_whole_job_is_watched(session: Session, tmp_path: Path) -> None:
    for bad in ("7_1", "7; ls", ""):
        with pytest.raises(InvalidInput):
            CellRun(session, record(tmp_path, job_id=bad), {})  # type: ignore[arg-type]
