"""A job's options again, in the submit form's words, for "Resubmit". Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .options import OPTIONS

_BY_FLAG = {o.flag: o for o in OPTIONS}

#: ``scontrol show job`` (or accounting's record in its words) field -> option, for jobs submitted
#: elsewhere: what a user set and would set again.
_FROM_FIELDS = (
    ("JobName", "job_name"),
    ("Partition", "partition"),
    ("Account", "account"),
    ("QOS", "qos"),
    ("TimeLimit", "time"),
    ("NumNodes", "nodes"),
    ("NumTasks", "ntasks"),
    ("CPUs/Task", "cpus_per_task"),
    ("MinMemoryNode", "mem"),
    ("MinMemoryCPU", "mem_per_cpu"),
    ("WorkDir", "chdir"),
)


def options_from_flags(flags: Sequence[str]) -> dict[str, str | bool]:
    """sbatch flags slurm-lab built (``--mem=1G``, ``--hold``) as submit options; others dropped."""
    options: dict[str, str | bool] = {}
    for flag in flags:
        name, eq, value = flag.partition("=")
        spec = _BY_FLAG.get(name)
        if spec is not None:
            options[spec.name] = value if eq else True
    return options


def options_from_fields(fields: Mapping[str, str]) -> dict[str, str | bool]:
    """The options a job's record shows it ran with (those an option can ask for again)."""
    options: dict[str, str | bool] = {}
    for key, name in _FROM_FIELDS:
        value = fields.get(key, "")
        if value and value not in ("(null)", "None", "UNLIMITED", "Partition_Limit", "N/A", "0"):
            options[name] = value
    if isinstance(nodes := options.get("nodes"), str):
        options["nodes"] = nodes.split("-")[0]  # "1-1" when no range was asked
    if re.fullmatch(r"\d+[KMGT]", str(options.get("mem", ""))) is None:
        options.pop("mem", None)
    return options
