"""cells/plan.py: a %%slurm cell's sbatch flags and batch script, decided before anything reaches
the cluster; %%slurm's arguments mapped to sbatch options; bad input refused naming the field."""

from __future__ import annotations

import re
import shlex
import subprocess
from datetime import datetime
from typing import Any

import pytest

from slurm_lab.cells.magics import SBATCH_ARGS, SlurmMagics
from slurm_lab.cells.plan import (
    RunPlan,
    job_script,
    make_plan,
    names,
    new_run_id,
    result_name,
    submit_flags,
)
from slurm_lab.errors import InvalidInput
from slurm_lab.slurm.options import OPTIONS

RUN_DIR = "/home/slab-alice/.slurm-lab/runs/20261121-142105-a1b2c3"
CELL = "import socket\nhost = socket.gethostname()\n"


def plan(options: dict[str, Any] | None = None, **kwargs: Any) -> RunPlan:
    kwargs.setdefault("python", "/usr/bin/python3")
    return make_plan(CELL, options or {}, run_id="20261121-142105-a1b2c3", **kwargs)


def cell_options(line: str) -> dict[str, Any]:
    """What %%slurm hands make_plan for a magic line (as SlurmMagics.slurm does)."""
    args = SlurmMagics.slurm.parser.parse_args(shlex.split(line))
    return {name: getattr(args, attr) for attr, name in SBATCH_ARGS.items()}


def test_a_plain_run_script_and_flags() -> None:
    p = plan({"partition": "debug", "time": "10"})
    assert not p.is_array and p.flags == ["--partition=debug", "--time=10"]
    assert job_script(p, RUN_DIR) == (
        "#!/bin/sh\n"
        "# slurm-lab cell run 20261121-142105-a1b2c3\n"
        f"/usr/bin/python3 {RUN_DIR}/worker.py {RUN_DIR}\n"
        "status=$?\n"
        "exit $status\n"
    )
    assert submit_flags(p, RUN_DIR) == [
        "--partition=debug",
        "--time=10",
        "--job-name=slurm-cell",
        f"--output={RUN_DIR}/stdout.txt",
        f"--error={RUN_DIR}/stderr.txt",
    ]
    assert result_name(None) == "result.pkl"


def test_an_array_run_has_a_file_per_task() -> None:
    p = plan({"array": "0-9%2", "job_name": "sweep"})
    assert p.is_array and p.options == {"array": "0-9%2", "job_name": "sweep"}
    flags = submit_flags(p, RUN_DIR)
    assert flags == [
        "--array=0-9%2",
        "--job-name=sweep",  # the user's name: no default added
        f"--output={RUN_DIR}/stdout-%a.txt",
        f"--error={RUN_DIR}/stderr-%a.txt",
    ]
    assert result_name("3") == "result-3.pkl"


def test_the_runs_own_output_files_win_over_the_users() -> None:
    p = plan({"output": "mine.out", "error": "mine.err"})
    assert submit_flags(p, RUN_DIR)[-2:] == [
        f"--output={RUN_DIR}/stdout.txt",
        f"--error={RUN_DIR}/stderr.txt",
    ]
    assert not any(f.startswith(("--output=mine", "--error=mine")) for f in submit_flags(p, RUN_DIR))


def test_prerun_srun_postrun_and_quoting() -> None:
    run_dir = "/home/slab-alice/my runs/x"  # a space: quoted, not split
    p = plan(
        prerun=("module load python/3.11", "export OMP_NUM_THREADS=4"),
        postrun=("rm -rf $TMPDIR/scratch",),
        srun="--ntasks=2 --cpu-bind=cores --chdir='$(id)'",
    )
    lines = job_script(p, run_dir).splitlines()
    assert lines[2:4] == ["module load python/3.11", "export OMP_NUM_THREADS=4"]
    assert lines[4] == (
        "srun --ntasks=2 --cpu-bind=cores '--chdir=$(id)' /usr/bin/python3 "
        "'/home/slab-alice/my runs/x/worker.py' '/home/slab-alice/my runs/x'"
    )
    # The worker's status is the job's, whatever postrun does.
    assert lines[5:] == ["status=$?", "rm -rf $TMPDIR/scratch", "exit $status"]


def test_the_script_is_valid_sh_that_exits_with_the_workers_status(tmp_path: Any) -> None:
    p = plan(python="false", postrun=("true",))
    result = subprocess.run(["sh", "-c", job_script(p, str(tmp_path))], capture_output=True)
    assert result.returncode == 1
    p = plan(python="true", prerun=("exit_code=3",), postrun=("false",))
    assert subprocess.run(["sh", "-c", job_script(p, str(tmp_path))]).returncode == 0


def test_profile_then_cell_options_and_unset_ones_dropped() -> None:
    profile = {"partition": "gpu", "gpus": "1", "time": "2:00:00", "exclusive": True}
    p = plan({"time": "30", "mem": None, "hold": False}, profile=profile)
    assert p.options == {"partition": "gpu", "gpus": "1", "time": "30", "exclusive": True}
    assert p.flags == ["--partition=gpu", "--gpus=1", "--time=30", "--exclusive"]


def test_magic_arguments_map_to_sbatch_flags() -> None:
    options = cell_options("-p debug -c 4 --mem 2G -t 1:00:00 --array 0-3 --exclusive -J fit")
    p = plan(options)
    assert p.flags == [
        "--partition=debug",
        "--time=1:00:00",
        "--cpus-per-task=4",
        "--mem=2G",
        "--job-name=fit",
        "--array=0-3",
        "--exclusive",
    ]
    assert plan(cell_options("")).flags == []  # nothing given: nothing sent
    # Every option the table offers to %%slurm is an argument, with sbatch's own flags.
    offered = {o.name for o in OPTIONS if o.cell}
    assert set(SBATCH_ARGS) == offered
    long_flags = {a for action in SlurmMagics.slurm.parser._actions for a in action.option_strings}
    assert {o.flag for o in OPTIONS if o.cell} <= long_flags


def test_names_and_run_ids() -> None:
    assert names("df, params,,model ", "--in") == ("df", "params", "model")
    assert names(None, "--in") == names("", "--out") == ()
    run_id = new_run_id(datetime(2026, 11, 21, 14, 21, 5))
    assert re.fullmatch(r"20261121-142105-[0-9a-f]{6}", run_id)
    assert new_run_id() != new_run_id()
    assert plan(inputs="a,b", outputs="c").inputs == ("a", "b")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"options": {"partition": "debug; rm -rf ~"}}, "options.partition"),
        ({"options": {"wrap": "id"}}, "options.wrap"),
        ({"options": {"time": "10\n#SBATCH --uid=0"}}, "options.time"),
        ({"options": {}, "profile": {"nodelist": "-x"}}, "options.nodelist"),
        ({"python": "python3 -c 'import os'"}, "python"),
        ({"python": "python3;id"}, "python"),
        ({"python": ""}, "python"),
        ({"source": "  \n"}, "cell"),
        ({"prerun": ("echo a\necho b",)}, "prerun"),
        ({"postrun": ("echo \x00",)}, "postrun"),
        ({"srun": "--ntasks=1 hostname"}, "srun"),
        ({"srun": "--export='A"}, "srun"),
        ({"inputs": "df,1x"}, "--in"),
        ({"outputs": "a-b"}, "--out"),
    ],
)
def test_bad_input_is_refused_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    source = kwargs.pop("source", CELL)
    options = kwargs.pop("options", {})
    kwargs.setdefault("python", "/usr/bin/python3")
    with pytest.raises(InvalidInput) as info:
        make_plan(source, options, **kwargs)
    assert info.value.field == field
