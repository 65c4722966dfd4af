"""Resubmit's pieces: options again from flags or a job's record, limits a request would hit,
and the kept scripts. Pure (the store on a temporary folder)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from slurm_lab.models import AccountInfo, Association, Limit, QosLimits
from slurm_lab.scripts import ScriptStore
from slurm_lab.slurm.limits import array_tasks, limit_warnings
from slurm_lab.slurm.parsers import parse_job_details
from slurm_lab.slurm.resubmit import options_from_fields, options_from_flags
from slurm_lab.validation import sbatch_flags
from tests.conftest import fixture_text


def test_options_round_trip_through_flags() -> None:
    options = {"job_name": "train", "mem": "4G", "time": "30", "hold": True, "chdir": "/w d"}
    assert options_from_flags(sbatch_flags(options)) == options
    assert options_from_flags(["--output=/x", "--unknown=1", "--parsable"]) == {"output": "/x"}


def test_options_from_a_real_record() -> None:
    text = fixture_text("scontrol_show_job_pending.txt")
    job_id = text.split("JobId=")[1].split()[0]
    fields = parse_job_details(text, job_id).fields
    options = options_from_fields(fields)
    assert options["job_name"] == fields["JobName"] and options["partition"] == "debug"
    assert options["nodes"] == "1" and options["mem_per_cpu"] == "512M" and options["chdir"] == "/tmp"
    assert "time" not in options and "account" not in options  # UNLIMITED, (null)
    assert options_from_fields({"NumNodes": "2-4", "MinMemoryNode": "0"}) == {"nodes": "2"}


def test_array_tasks() -> None:
    assert [array_tasks(s) for s in (None, "0-9%2", "1,3,5-7", "1-9:2", "7")] == [1, 10, 5, 5, 1]


def _account(*limits: Limit) -> AccountInfo:
    default = Association("physics", None, True, 0.5, 0.0, [Limit("GrpJobs", 2, 2, 0)])
    return AccountInfo("alice", [default], [QosLimits("limited", list(limits))])


def test_limit_warnings_name_the_limit() -> None:
    account = _account(Limit("GrpTRESMins cpu", 600, 81, 519), Limit("MaxSubmitJobsPU", 3, 1, 2))
    flags = ["--qos=limited", "--time=300", "--array=1-4"]
    warnings = limit_warnings(account, flags, 2, None)
    assert any("needs 2,400 CPU-minutes" in w and "519 left" in w for w in warnings)
    assert any("2 left for 4" in w for w in warnings)
    assert any("account physics allows 2 running jobs" in w for w in warnings)
    # Another QOS's limits do not apply; the partition's default time counts when none is asked.
    assert limit_warnings(account, ["--account=biology"], 2, 60) == []
    assert any("CPU-minutes" in w for w in limit_warnings(account, ["--qos=limited"], 16, 60))


def test_kept_scripts(tmp_path: Path) -> None:
    store = ScriptStore(tmp_path / "scripts", limit=3)
    store.keep("12", b"#!/bin/sh\necho hi\n", ["--mem=1G"])
    kept = store.find("12_4")  # an array task's script is its array's
    assert kept and kept.script == "#!/bin/sh\necho hi\n" and kept.flags == ["--mem=1G"]
    assert os.stat(tmp_path / "scripts").st_mode & 0o777 == 0o700
    assert os.stat(tmp_path / "scripts" / "12.json").st_mode & 0o777 == 0o600
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    assert kept.matches(now) and kept.matches(None) and not kept.matches("2020-01-01T00:00:00")
    assert store.find("../12") is None and store.find("13") is None
    for job_id in ("13", "14", "15"):
        store.keep(job_id, b"x", [])
        os.utime(tmp_path / "scripts" / f"{job_id}.json", (time.time() + int(job_id),) * 2)
    assert sorted(p.name for p in (tmp_path / "scripts").iterdir()) == ["13.json", "14.json", "15.json"]
    ScriptStore(None).keep("1", b"x", [])  # keeps nothing, says nothing
