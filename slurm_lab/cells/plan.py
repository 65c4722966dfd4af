"""Pure planning of a cell run: sbatch options from magic arguments, the job script, file names."""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import validation
from ..errors import InvalidInput

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_PYTHON = re.compile(r"[A-Za-z0-9_./+~-]{1,4096}", re.ASCII)
CHECK_PYTHON = (
    "import json, sys\n"
    "try:\n    import cloudpickle; cp = cloudpickle.__version__\n"
    "except ImportError:\n    cp = None\n"
    "print(json.dumps({'python': '%d.%d' % sys.version_info[:2], 'cloudpickle': cp}))"
)


@dataclass(frozen=True)
class RunPlan:
    """Everything needed to submit one cell, decided before anything touches the cluster."""

    run_id: str
    source: str
    options: dict[str, Any]  # sbatch options (validated names), profile merged in
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    python: str
    prerun: tuple[str, ...] = ()
    postrun: tuple[str, ...] = ()
    srun: str | None = None  # srun options; None runs the worker directly in the batch step
    flags: list[str] = field(default_factory=list)

    @property
    def is_array(self) -> bool:
        return bool(self.options.get("array"))


def new_run_id(now: datetime | None = None) -> str:
    return (now or datetime.now()).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def names(value: str | None, field_name: str) -> tuple[str, ...]:
    """``a,b`` -> ("a", "b"), each a Python identifier."""
    if not value:
        return ()
    out = tuple(n.strip() for n in value.split(",") if n.strip())
    for name in out:
        if not IDENTIFIER.fullmatch(name):
            raise InvalidInput(field_name, f"{name!r} is not a Python variable name")
    return out


def make_plan(
    source: str,
    options: Mapping[str, Any],
    *,
    profile: Mapping[str, Any] | None = None,
    inputs: str | None = None,
    outputs: str | None = None,
    python: str,
    prerun: tuple[str, ...] = (),
    postrun: tuple[str, ...] = (),
    srun: str | None = None,
    run_id: str | None = None,
) -> RunPlan:
    """Validate everything (raising InvalidInput naming the field) and return the plan."""
    merged = {**(profile or {}), **{k: v for k, v in options.items() if v not in (None, False)}}
    flags = validation.sbatch_flags(merged)
    if not _PYTHON.fullmatch(python):
        raise InvalidInput("python", "must be a path or command name without spaces or shell characters")
    if not source.strip():
        raise InvalidInput("cell", "is empty")
    for name, lines in (("prerun", prerun), ("postrun", postrun)):
        if any("\n" in line or "\x00" in line for line in lines):
            raise InvalidInput(name, "takes one shell line per option")
    if srun is not None:
        try:
            srun_args = shlex.split(srun)
        except ValueError as exc:
            raise InvalidInput("srun", str(exc)) from None
        if any(not a.startswith("-") for a in srun_args):
            raise InvalidInput("srun", "takes srun options only, e.g. '--ntasks=1 --cpu-bind=cores'")
    return RunPlan(
        run_id=run_id or new_run_id(),
        source=source,
        options=merged,
        inputs=names(inputs, "--in"),
        outputs=names(outputs, "--out"),
        python=python,
        prerun=prerun,
        postrun=postrun,
        srun=srun,
        flags=flags,
    )


def submit_flags(plan: RunPlan, run_dir: str) -> list[str]:
    """sbatch flags: the user's, plus where stdout/stderr go and the job name."""
    suffix = "-%a" if plan.is_array else ""
    flags = [f for f in plan.flags if not f.startswith(("--output=", "--error="))]
    if "job_name" not in plan.options:
        flags.append("--job-name=slurm-cell")
    return [*flags, f"--output={run_dir}/stdout{suffix}.txt", f"--error={run_dir}/stderr{suffix}.txt"]


def job_script(plan: RunPlan, run_dir: str) -> str:
    """The batch script (sent on stdin): prerun lines, the worker, postrun lines, the worker's status."""
    worker = [plan.python, f"{run_dir}/worker.py", run_dir]
    launch = shlex.join(worker)
    if plan.srun is not None:
        launch = shlex.join(["srun", *shlex.split(plan.srun), *worker])
    lines = [
        "#!/bin/sh",
        f"# slurm-lab cell run {plan.run_id}",
        *plan.prerun,
        launch,
        "status=$?",
        *plan.postrun,
        "exit $status",
    ]
    return "\n".join(lines) + "\n"


def result_name(task: str | None) -> str:
    return f"result-{task}.pkl" if task is not None else "result.pkl"
