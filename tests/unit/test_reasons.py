"""Pending reasons in plain words; sbatch --test-only and priority listings as Slurm prints them."""

from __future__ import annotations

import pytest

from slurm_lab.slurm import parsers
from slurm_lab.slurm.argv import FIELD_SEP
from slurm_lab.slurm.reasons import explain

#: Every reason the issue names, plus limit codes Slurm 22.05 prints (src/common/slurm_protocol_defs.c).
REASONS = [
    "Resources", "Priority", "Dependency", "DependencyNeverSatisfied", "JobHeldUser", "JobHeldAdmin",
    "BeginTime", "ReqNodeNotAvail, UnavailableNodes:c2", "PartitionTimeLimit", "QOSMaxSubmitJobPerUserLimit",
    "QOSMaxJobsPerUserLimit", "QOSMaxCpuPerUserLimit", "QOSGrpCpuLimit", "QOSGrpCPUMinutesLimit",
    "QOSMaxWallDurationPerJobLimit", "AssocGrpCPUMinutesLimit", "AssocGrpJobsLimit", "AssocMaxJobsLimit",
    "AssocGrpMemLimit", "launch failed requeued held", "JobLaunchFailure", "JobArrayTaskLimit",
]  # fmt: skip


@pytest.mark.parametrize("reason", REASONS)
def test_every_reason_is_explained_in_plain_words(reason: str) -> None:
    explained = explain(reason)
    assert explained is not None and explained.reason == reason
    assert not explained.text.startswith("Slurm says"), reason  # known, not passed through
    assert explained.text.endswith((".", ")"))


def test_limits_are_read_from_their_parts() -> None:
    minutes = explain("AssocGrpCPUMinutesLimit")
    assert minutes is not None and "group limit of your account (association) on CPU minutes" in minutes.text
    assert "decays" in minutes.text
    submit = explain("QOSMaxSubmitJobPerUserLimit")
    assert submit is not None and "limit of your QOS on queued jobs per user" in submit.text
    held = explain("ReqNodeNotAvail, UnavailableNodes:c2")
    assert held is not None and "UnavailableNodes:c2" in held.text
    shown = explain("ReqNodeNotAvail,_UnavailableNodes:c2")  # scontrol's Reason= form
    assert shown is not None and shown.text == held.text
    requeued = explain("BeginTime")  # also what a job requeued after a node failure waits for
    assert requeued is not None and "--begin" in requeued.text and "requeued" in requeued.text
    assert explain("None") is None and explain("") is None
    unknown = explain("SomethingNew")
    assert unknown is not None and unknown.text == "Slurm says: SomethingNew."


def test_test_only_answer_and_priorities() -> None:
    will = parsers.parse_will_run(
        "sbatch: Job 45638 to start at 2026-11-21T14:30:43 using 2 processors on nodes vm in partition long\n"
    )
    assert (will.expected_start, will.nodes, will.partition, will.processors) == (
        "2026-11-21T14:30:43", "vm", "long", 2,
    )  # fmt: skip
    sprio = FIELD_SEP.join(["  45", "debug", "1500", "100", "1200", "150", "50", "0", "0"])
    basic = FIELD_SEP.join(["46", "long", "4294901"])
    lines = parsers.parse_priorities(f"{sprio}\n{basic}\n")
    assert lines[0].job_id == "45" and lines[0].priority == 1500 and lines[0].factors is not None
    assert lines[0].factors["fairshare"] == 1200 and lines[1].factors is None
    with pytest.raises(ValueError):
        parsers.parse_priorities("garbage")
