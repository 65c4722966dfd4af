"""Array-task ids on captured output: every row squeue or slurmrestd shows can be acted on, a
collapsed row of pending tasks means exactly those tasks, and %%slurm knows its array's tasks."""

from __future__ import annotations

import json

import pytest

from slurm_lab import validation
from slurm_lab.cells.run import array_tasks
from slurm_lab.errors import InvalidInput, JobNotFound
from slurm_lab.slurm import parsers, rest

from ..conftest import FIXTURES, fixture_text

NONCE = "TESTNONCE"  # squeue_all.txt was captured with argv.queue_format("TESTNONCE")


def restd_jobs() -> dict:  # type: ignore[type-arg]
    with open(f"{FIXTURES}/restd_v0.0.38_jobs.json") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def array_payload(array: int) -> dict:  # type: ignore[type-arg]
    """What ``GET job/{array}`` answers: the array's records only."""
    return {"jobs": [j for j in restd_jobs()["jobs"] if j.get("array_job_id") == array]}


def test_every_queue_row_is_an_id_the_api_takes_as_it_is() -> None:
    squeue_ids = [j.job_id for j in parsers.parse_queue(fixture_text("squeue_all.txt"), NONCE)]
    assert {"15_[1-5]", "11_[0]"} <= set(squeue_ids)
    restd_ids = [j.job_id for j in rest.parse_jobs(restd_jobs())]
    assert {"32941_3", "32941_[0-2,4-9]", "33038_0", "33038_[2-5%2]"} <= set(restd_ids)
    for job_id in squeue_ids + restd_ids:
        expected = job_id.replace("%2]", "]")  # a throttle belongs to the array, not to an id
        assert validation.job_id(job_id) == expected


@pytest.mark.parametrize(
    ("row", "tasks"),
    [
        ("15_[1-5]", ["15_1", "15_2", "15_3", "15_4", "15_5"]),
        ("11_[0]", ["11_0"]),
        ("32941_[0-2,4-9]", [f"32941_{t}" for t in (0, 1, 2, 4, 5, 6, 7, 8, 9)]),
        ("33038_[2-5%2]", ["33038_2", "33038_3", "33038_4", "33038_5"]),
        ("33038_1", ["33038_1"]),
        ("32938", ["32938"]),
    ],
)
def test_a_collapsed_row_is_exactly_its_tasks(row: str, tasks: list[str]) -> None:
    """slurmrestd takes no bracketed ids: the row is acted on task by task, as validated."""
    assert rest.task_ids(validation.job_id(row), limit=100) == tasks


def test_a_row_with_too_many_tasks_is_named_not_expanded() -> None:
    with pytest.raises(rest.NotExpressible, match="more than 100 tasks"):
        rest.task_ids("42_[0-50,60-110]", limit=100)
    assert len(rest.task_ids("42_[0-99]", limit=100)) == 100


def test_has_task_reads_the_arrays_records_as_slurmrestd_prints_them() -> None:
    pending = array_payload(33038)  # tasks 0 and 1 run; 2-5 wait, throttled to 2 at once
    assert [t for t in range(8) if rest.has_task(pending, t)] == [0, 1, 2, 3, 4, 5]
    cancelled = array_payload(32941)  # task 3 has its own record; 0-2,4-9 are one
    assert [t for t in range(12) if rest.has_task(cancelled, t)] == list(range(10))
    stepped = {"jobs": [{"array_job_id": 7, "array_task_id": None, "array_task_string": "1-9:4%2"}]}
    assert [t for t in range(12) if rest.has_task(stepped, t)] == [1, 5, 9]
    assert not rest.has_task({"jobs": []}, 0)


def test_scontrol_records_of_a_running_array_match_its_queue_rows() -> None:
    text = fixture_text("scontrol_show_job_array_running.txt")  # array 20: 0 and 1 run, 2-3 wait
    pending = parsers.parse_job_details(text, validation.job_id("20_[2-3]"))
    spec = pending.fields["ArrayTaskId"]
    assert spec == "2-3" and rest.task_ids(f"20_[{spec}]", limit=10) == ["20_2", "20_3"]
    for task, job in (("0", "21"), ("1", "22")):
        details = parsers.parse_job_details(text, validation.job_id(f"20_{task}"))
        assert (details.fields["JobId"], details.fields["ArrayTaskId"]) == (job, task)
        assert details.user_id == 1001
    with pytest.raises(JobNotFound):  # those tasks all started meanwhile
        parsers.parse_job_details(text.replace("JobState=PENDING", "JobState=RUNNING"), "20_[2-3]")


@pytest.mark.parametrize(
    ("spec", "tasks"),
    [
        ("0-3", ["0", "1", "2", "3"]),
        ("0-9%2", [str(t) for t in range(10)]),
        ("1,3,5", ["1", "3", "5"]),
        ("0-15:4", ["0", "4", "8", "12"]),
        ("7", ["7"]),
        ("1-3,10-11%1", ["1", "2", "3", "10", "11"]),
    ],
)
def test_cell_array_tasks(spec: str, tasks: list[str]) -> None:
    """%%slurm --array: which result files to expect (result-{task}.pkl)."""
    assert validation.sbatch_flags({"array": spec}) == [f"--array={spec}"]
    assert array_tasks(spec) == tasks


@pytest.mark.parametrize(
    "job_id",
    ["12_[]", "12_[1-2", "12_[01]", "12_[4000001]", "12_[1-2]%3", "12_[1;2]", "_[1]", "12_[1-2]x", "12_-1"],
)
def test_malformed_task_ids_are_refused(job_id: str) -> None:
    with pytest.raises(InvalidInput):
        validation.job_id(job_id)


def test_a_reversed_task_range_is_refused_or_means_its_tasks() -> None:
    try:
        job_id = validation.job_id("12_[9-3]")
    except InvalidInput:
        return
    assert rest.task_ids(job_id, limit=100) != []
