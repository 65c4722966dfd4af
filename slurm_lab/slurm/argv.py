"""Build argv lists for the Slurm CLIs. Every value reaching here was validated first."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import Scope

FIELD_SEP = "\x1f"  # between fields: cannot appear in anything sbatch accepts from us
RECORD_SEP = "\x1e"  # ends a record, so a job name holding a newline cannot split one

#: squeue --Format field for each Job attribute, in output order.
QUEUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("JobArrayID", "job_id"),
    ("ArrayJobID", "array_job_id"),
    ("ArrayTaskID", "array_task_id"),
    ("Name", "name"),
    ("UserName", "user"),
    ("Account", "account"),
    ("Partition", "partition"),
    ("State", "state"),
    ("Reason", "reason"),
    ("SubmitTime", "submit_time"),
    ("StartTime", "start_time"),
    ("EndTime", "end_time"),
    ("TimeUsed", "time_used"),
    ("TimeLimit", "time_limit"),
    ("NumNodes", "num_nodes"),
    ("NumCPUs", "num_cpus"),
    ("NodeList", "nodes"),
    ("WorkDir", "work_dir"),
    ("STDOUT", "stdout_path"),
    ("STDERR", "stderr_path"),
    ("QOS", "qos"),
)

PARTITION_FORMAT = FIELD_SEP.join(["%R", "%a", "%l", "%L", "%D", "%C", "%N", "%P"])

HISTORY_FIELDS = (
    "JobID,JobName,User,Partition,State,ExitCode,Submit,Start,End,Elapsed,NNodes,NodeList,WorkDir"
)


def _queue_format() -> str:
    names = [name for name, _ in QUEUE_FIELDS]
    return ",".join(f"{n}:{FIELD_SEP}" for n in names[:-1]) + f",{names[-1]}:{RECORD_SEP}"


QUEUE_FORMAT = _queue_format()


def squeue(scope: Scope) -> list[str]:
    """The queue, every state the controller still remembers. ``mine`` lets slurmctld pack only ours."""
    argv = ["squeue", "--noheader", "--states=all", f"--Format={QUEUE_FORMAT}"]
    if scope == "mine":
        argv.append("--me")
    return argv


def scontrol_show_job(job_id: str) -> list[str]:
    return ["scontrol", "show", "job", "--oneliner", job_id]


def sbatch(flags: Sequence[str]) -> list[str]:
    """sbatch reading the script from stdin; ``flags`` come from :func:`validation.sbatch_flags`."""
    return ["sbatch", "--parsable", *flags]


def scancel(job_ids: Sequence[str]) -> list[str]:
    return ["scancel", *job_ids]


def scontrol_hold(job_ids: Sequence[str]) -> list[str]:
    return ["scontrol", "hold", ",".join(job_ids)]


def scontrol_release(job_ids: Sequence[str]) -> list[str]:
    return ["scontrol", "release", ",".join(job_ids)]


def sinfo_partitions() -> list[str]:
    return ["sinfo", "--noheader", f"--format={PARTITION_FORMAT}"]


def scontrol_ping() -> list[str]:
    return ["scontrol", "ping"]


def slurm_version() -> list[str]:
    """Version of the client tools; answered locally, no controller RPC."""
    return ["sinfo", "--version"]


def scontrol_show_config() -> list[str]:
    return ["scontrol", "show", "config"]


def sacct(start: str, user: str | None = None) -> list[str]:
    """Jobs since ``start`` from accounting (slurmdbd), one line per allocation."""
    argv = ["sacct", "--noheader", "--parsable2", "--allocations"]
    argv += [f"--format={HISTORY_FIELDS}", f"--starttime={start}"]
    argv += [f"--user={user}"] if user else ["--allusers"]
    return argv
