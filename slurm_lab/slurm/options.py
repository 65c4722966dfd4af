"""Every sbatch option slurm-lab accepts, in one table: validation, ``%%slurm``'s arguments, the
OpenAPI schema, the submit form and the slurmrestd job fields all derive from it, so a new option
is one line here.

    python -m slurm_lab.slurm.options      rewrite the generated block of openapi.yaml
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

_NAME = r"[A-Za-z0-9_.+-]+"
_NAMES = rf"{_NAME}(,{_NAME})*"
_PATH = r"[A-Za-z0-9_./%@+=,~ -]{1,4096}"
_TEXT = r"[A-Za-z0-9 _.,:+=@%<>()\[\]{}/#!?*~^-]{1,200}"
_COUNT = r"\d{1,7}"
_MEM = r"\d{1,9}[KMGT]?"
_GPUS = rf"([A-Za-z0-9_-]+:)?{_COUNT}"


@dataclass(frozen=True)
class SbatchOption:
    """One sbatch option: its API name, sbatch flag, allowed value shape, and how people meet it."""

    name: str  # in the REST API and the Python API: "cpus_per_task"
    flag: str  # sbatch's long flag: "--cpus-per-task"
    pattern: str | None  # the allowed value (an allow-list regex); None: a switch
    example: str
    help: str
    short: str | None = None  # sbatch's short flag, also %%slurm's: "-c"
    cell: bool = False  # offered by %%slurm
    kind: Literal["text", "count", "switch"] = "text"
    form: str | None = None  # its label in the panel's submit form; None: not in the form
    rest: str | None = None  # slurmrestd's job field[:conversion]; None: slurmrestd cannot carry it


Opt = SbatchOption
#: name, flag, value pattern, example, help, [short flag], [offered by %%slurm], [kind], [form label],
#: [slurmrestd field]
OPTIONS: tuple[SbatchOption, ...] = (
    Opt("partition", "--partition", _NAMES, "debug", "partition to run in", "-p", True, form="Partition", rest="partition"),
    Opt("time", "--time", r"[0-9:-]{1,16}|UNLIMITED|INFINITE", "1-00:00:00", "time limit, e.g. 30 or 1:00:00", "-t", True, form="Time limit", rest="time_limit:minutes"),
    Opt("time_min", "--time-min", r"[0-9:-]{1,16}", "30:00", "shortest acceptable time limit (for backfill)", rest="time_minimum:minutes"),
    Opt("nodes", "--nodes", rf"{_COUNT}(-{_COUNT})?", "2", "nodes", "-N", True, "count", form="Nodes", rest="nodes:range"),
    Opt("ntasks", "--ntasks", _COUNT, "4", "tasks", "-n", True, "count", rest="tasks:int"),
    Opt("ntasks_per_node", "--ntasks-per-node", _COUNT, "4", "tasks per node", kind="count", rest="tasks_per_node:int"),
    Opt("cpus_per_task", "--cpus-per-task", _COUNT, "2", "CPUs per task", "-c", True, "count", form="CPUs per task", rest="cpus_per_task:int"),
    Opt("mem", "--mem", _MEM, "4G", "memory per node, e.g. 4G", None, True, form="Memory", rest="memory_per_node:mb"),
    Opt("mem_per_cpu", "--mem-per-cpu", _MEM, "1G", "memory per CPU", rest="memory_per_cpu:mb"),
    Opt("gpus", "--gpus", _GPUS, "a100:1", "GPUs, e.g. 1 or a100:2", "-G", True, form="GPUs", rest="gpus"),
    Opt("gpus_per_node", "--gpus-per-node", _GPUS, "2", "GPUs per node", rest="gpus_per_node"),
    Opt("gpus_per_task", "--gpus-per-task", _GPUS, "1", "GPUs per task", rest="gpus_per_task"),
    Opt("cpus_per_gpu", "--cpus-per-gpu", _COUNT, "8", "CPUs per GPU", kind="count", rest="cpus_per_gpu"),
    Opt("mem_per_gpu", "--mem-per-gpu", _MEM, "40G", "memory per GPU", rest="memory_per_gpu:mb"),
    Opt("gres", "--gres", r"[A-Za-z0-9_:,.-]{1,200}", "gpu:1", "generic resources", rest="gres"),
    Opt("tmp", "--tmp", _MEM, "20G", "local disk space per node"),
    Opt("job_name", "--job-name", _TEXT, "train-model", "job name", "-J", True, form="Job name", rest="name"),
    Opt("comment", "--comment", _TEXT, "nightly run", "a comment stored with the job", rest="comment"),
    Opt("account", "--account", _NAME, "proj42", "account to charge", "-A", True, form="Account", rest="account"),
    Opt("qos", "--qos", _NAME, "normal", "quality of service", "-q", True, rest="qos"),
    Opt("wckey", "--wckey", _NAME, "analysis", "workload characterization key (accounting)", rest="wckey"),
    Opt("reservation", "--reservation", _NAME, "maint", "reservation to run in", rest="reservation"),
    Opt("array", "--array", r"[0-9][0-9,:%-]{0,200}", "1-100%10", "array tasks, e.g. 0-9", "-a", True, form="Array", rest="array"),
    Opt("output", "--output", _PATH, "logs/%x-%j.out", "stdout file", form="Output file", rest="standard_output"),
    Opt("error", "--error", _PATH, "logs/%x-%j.err", "stderr file", rest="standard_error"),
    Opt("open_mode", "--open-mode", r"append|truncate", "append", "append to or truncate the output files", rest="open_mode"),
    Opt("chdir", "--chdir", _PATH, "/scratch/alice/run1", "working directory of the job", "-D", True, form="Working directory", rest="current_working_directory"),
    Opt("dependency", "--dependency", r"[a-z]+(:[0-9_+]+)*([,?][a-z]+(:[0-9_+]+)*)*", "afterok:1234", "start after other jobs", "-d", form="Dependency", rest="dependency"),
    Opt("kill_on_invalid_dep", "--kill-on-invalid-dep", r"yes|no", "yes", "end the job when its dependency can never be met", rest="kill_on_invalid_dependency:yes"),
    Opt("constraint", "--constraint", r"[A-Za-z0-9_&|,\[\]*():!.-]{1,200}", "haswell|broadwell", "node features", "-C", True, rest="constraints"),
    Opt("nodelist", "--nodelist", r"[A-Za-z0-9_,\[\].-]{1,500}", "node[01-04]", "nodes to run on", "-w"),
    Opt("exclude", "--exclude", r"[A-Za-z0-9_,\[\].-]{1,500}", "node07", "nodes to avoid", "-x"),
    Opt("export", "--export", r"[A-Za-z0-9_=,./:+@-]{1,1000}", "ALL,OMP_NUM_THREADS=4", "environment passed to the job"),
    Opt("begin", "--begin", r"[0-9A-Za-z:+-]{1,40}", "now+1hour", "start no earlier than", rest="begin_time"),
    Opt("signal", "--signal", r"(B:)?[A-Z0-9]{1,10}(@[0-9]{1,5})?", "B:USR1@120", "signal the job before its time limit", rest="signal"),
    Opt("mail_type", "--mail-type", r"[A-Z0-9_,]{1,100}", "END,FAIL", "when to send mail", rest="mail_type"),
    Opt("mail_user", "--mail-user", r"[A-Za-z0-9_.+-]+@[A-Za-z0-9.-]+", "alice@example.org", "who gets the mail", rest="mail_user"),
    Opt("licenses", "--licenses", r"[A-Za-z0-9_:,@.-]{1,200}", "matlab:1", "licenses", "-L", rest="licenses"),
    Opt("hold", "--hold", None, "true", "submit held", "-H", kind="switch", form="Submit held", rest="hold:bool"),
    Opt("exclusive", "--exclusive", None, "true", "whole nodes", None, True, "switch", rest="exclusive:true"),
    Opt("spread_job", "--spread-job", None, "true", "spread the job over as many nodes as possible", kind="switch", rest="spread_job:bool"),
    Opt("requeue", "--requeue", None, "true", "requeue after a node failure", kind="switch", rest="requeue:bool"),
    Opt("no_requeue", "--no-requeue", None, "true", "never requeue", kind="switch", rest="requeue:false"),
)  # fmt: skip
BY_NAME: dict[str, SbatchOption] = {o.name: o for o in OPTIONS}

_BEGIN = "        # BEGIN generated from slurm_lab/slurm/options.py (python -m slurm_lab.slurm.options)"
_END = "        # END generated"


def describe() -> list[dict[str, object]]:
    """The table for clients (``GET options``): the submit form and #SBATCH reading use it."""
    return [
        {"name": o.name, "flag": o.flag, "short": o.short, "example": o.example, "help": o.help,
         "kind": o.kind, "form": o.form}
        for o in OPTIONS
    ]  # fmt: skip


def openapi_properties() -> str:
    """The ``SubmitOptions`` properties of openapi.yaml, one line per option."""
    types = {"text": "type: string", "count": "oneOf: [{ type: string }, { type: integer }]",
             "switch": "type: boolean"}  # fmt: skip
    lines = [_BEGIN]
    for o in OPTIONS:
        example = "" if o.kind == "switch" else f', example: "{o.example}"'
        lines.append(f'        {o.name}: {{ {types[o.kind]}, description: "{o.help} ({o.flag})"{example} }}')
    return "\n".join([*lines, _END])


def openapi_text() -> str:
    """openapi.yaml with its SubmitOptions block as the table says (what the API serves)."""
    text = files("slurm_lab").joinpath("openapi.yaml").read_text()
    head, _, rest = text.partition(_BEGIN)
    _, _, tail = rest.partition(_END)
    return head + openapi_properties() + tail


if __name__ == "__main__":
    target = files("slurm_lab").joinpath("openapi.yaml")
    text = openapi_text()  # read before the file is opened for writing
    with open(str(target), "w") as fh:
        fh.write(text)
    sys.stdout.write(f"wrote {target}\n")
