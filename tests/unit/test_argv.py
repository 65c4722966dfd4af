"""argv builders: exact argv lists, never a shell string."""

from __future__ import annotations

import pytest

from slurm_lab.slurm import argv


def test_squeue_scope() -> None:
    mine, everyone = argv.squeue("mine", "n"), argv.squeue("all", "n")
    assert mine[:3] == ["squeue", "--noheader", "--states=all"] and mine[-1] == "--me"
    assert "--me" not in everyone and not any(a.startswith("-u") for a in everyone)
    assert everyone[3] == f"--Format={argv.queue_format('n')}"


def test_actions() -> None:
    assert argv.scancel(["1", "2_3"]) == ["scancel", "--verbose", "1", "2_3"]
    assert argv.scontrol_hold(["1", "2"]) == ["scontrol", "hold", "1,2"]
    assert argv.scontrol_release(["7"]) == ["scontrol", "release", "7"]


def test_sbatch_reads_the_script_from_stdin() -> None:
    assert argv.sbatch(["--partition=debug"]) == ["sbatch", "--parsable", "--partition=debug"]


def test_sbatch_tag_joins_the_comment() -> None:
    assert argv.sbatch(["-p=x"], "slurm-lab:ab")[-1] == "--comment=slurm-lab:ab"
    tagged = argv.sbatch(["--comment=nightly run", "--hold"], "slurm-lab:ab")
    assert tagged == ["sbatch", "--parsable", "--comment=nightly run slurm-lab:ab", "--hold"]


def test_sacct() -> None:
    a = argv.sacct("2026-11-01", "n0nce", "alice")
    assert "--user=alice" in a and "--starttime=2026-11-01" in a and "--delimiter=\x1fn0nce" in a
    assert "--allocations" not in a  # the steps' MaxRSS gives the memory efficiency
    assert "--allusers" in argv.sacct("2026-11-01", "n0nce")
    assert argv.sacct_job("12_3", "n0nce")[-2:] == ["-j", "12_3"]


def test_one_job_is_asked_for_alone() -> None:
    assert argv.scontrol_job("42") == ["scontrol", "show", "job", "--oneliner", "42"]
    assert argv.scontrol_job("42_7")[-1] == "42_7"
    for bad in ["", "0", "42,43", "-42", "42 --me", "--me", "42_[1-3]", "4\uff12", "1" * 11, 42]:
        with pytest.raises(ValueError):
            argv.scontrol_job(bad)  # type: ignore[arg-type]
