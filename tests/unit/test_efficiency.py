"""Efficiency and right-sizing from sacct rows (the job's, then its steps' with MaxRSS)."""

from __future__ import annotations

from slurm_lab.slurm.argv import FIELD_SEP
from slurm_lab.slurm.efficiency import parse_efficiency, size_bytes, slurm_seconds


def rows(*lines: str) -> str:
    return "\n".join(line.replace("|", FIELD_SEP) for line in lines) + "\n"


def test_durations_and_sizes_as_sacct_prints_them() -> None:
    assert slurm_seconds("00:01.500") == 1.5
    assert slurm_seconds("01:02:03") == 3723
    assert slurm_seconds("1-00:00:10") == 86410
    assert slurm_seconds("") is None
    assert size_bytes("512M") == 512 << 20 and size_bytes("1.50G") == int(1.5 * (1 << 30))
    assert size_bytes("4000K") == 4000 << 10 and size_bytes("") is None


def test_a_job_that_held_far_more_than_it_used_gets_concrete_suggestions() -> None:
    text = rows(
        "41|COMPLETED|540|17:59.000|4||60|billing=4,cpu=4,mem=4G,node=1",
        "41.batch|COMPLETED|540|17:59.000|4|629145K||cpu=4,mem=4G,node=1",
        "41.extern|COMPLETED|540|00:00.001|4|0||billing=4,cpu=4,mem=4G,node=1",
    )
    e = parse_efficiency(text, "41")
    assert e is not None and e.state == "COMPLETED" and e.cpus == 4
    assert e.cpu_efficiency is not None and abs(e.cpu_efficiency - 1079 / 2160) < 1e-6
    assert e.memory_efficiency is not None and abs(e.memory_efficiency - 0.15) < 0.01
    assert e.time_efficiency == 0.15
    assert e.suggestions == {"mem": "800M", "time": "15", "cpus_per_task": "3"}
    assert e.notes[0] == "used 0.6 GB of 4 GB: --mem=800M"
    assert e.notes[1] == "used 9 of 60 min: --time=15"


def test_a_well_sized_job_gets_no_suggestion_and_gpus_are_counted() -> None:
    text = rows(
        "52|COMPLETED|3000|49:00.000|1||60|billing=1,cpu=1,gres/gpu=2,mem=1G,node=1",
        "52.batch|COMPLETED|3000|49:00.000|1|900M||cpu=1,gres/gpu=2,mem=1G,node=1",
    )
    e = parse_efficiency(text, "52")
    assert e is not None and e.gpus == 2 and e.suggestions == {} and e.notes == []
    assert parse_efficiency(text, "53") is None


def test_a_run_cut_short_gets_no_right_sizing_but_says_what_to_ask_for() -> None:
    from slurm_lab.slurm.efficiency import efficiency_of

    job = {"State": "TIMEOUT", "ElapsedRaw": "600", "TotalCPU": "00:10", "AllocCPUS": "4",
           "TimelimitRaw": "10", "AllocTRES": "cpu=4,mem=8G"}  # fmt: skip
    eff = efficiency_of("7", job, [{"MaxRSS": "100M"}])
    assert eff.suggestions == {} and eff.notes == ["ran out of time at its limit: ask for more with --time"]
    cancelled = efficiency_of("8", {**job, "State": "CANCELLED by 0"}, [])
    assert cancelled.state == "CANCELLED" and cancelled.suggestions == {} and cancelled.notes == []
