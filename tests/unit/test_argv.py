"""argv builders: exact argv lists, never a shell string."""

from __future__ import annotations

from slurm_lab.slurm import argv


def test_squeue_scope() -> None:
    mine, everyone = argv.squeue("mine"), argv.squeue("all")
    assert mine[:3] == ["squeue", "--noheader", "--states=all"] and mine[-1] == "--me"
    assert "--me" not in everyone and not any(a.startswith("-u") for a in everyone)
    fmt = everyone[3]
    assert fmt.startswith("--Format=JobArrayID:\x1f,") and fmt.endswith("QOS:\x1e")
    assert fmt.count("\x1f") == len(argv.QUEUE_FIELDS) - 1


def test_actions() -> None:
    assert argv.scancel(["1", "2_3"]) == ["scancel", "1", "2_3"]
    assert argv.scontrol_hold(["1", "2"]) == ["scontrol", "hold", "1,2"]
    assert argv.scontrol_release(["7"]) == ["scontrol", "release", "7"]


def test_sbatch_reads_the_script_from_stdin() -> None:
    assert argv.sbatch(["--partition=debug"]) == ["sbatch", "--parsable", "--partition=debug"]


def test_sacct() -> None:
    a = argv.sacct("2026-11-01", "alice")
    assert "--user=alice" in a and "--starttime=2026-11-01" in a and "--allocations" in a
    assert "--allusers" in argv.sacct("2026-11-01")
