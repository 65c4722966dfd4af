"""Build argv lists for the Slurm CLIs. Every value reaching here was validated first."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..models import Scope

FIELD_SEP = "\x1f"  # between fields whose values no user chooses (ids, states, times, counts)

#: squeue --Format field for each Job attribute whose value Slurm or the site's admin sets, in
#: output order. None of these can hold a byte a user picked, so FIELD_SEP separates them.
QUEUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("JobArrayID", "job_id"),
    ("ArrayJobID", "array_job_id"),
    ("ArrayTaskID", "array_task_id"),
    ("UserName", "user"),
    ("UserID", "user_id"),
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
    ("QOS", "qos"),
)
#: Fields any user fills with any bytes (``sbatch -J $'a\x1eb' -o $'x\x1fy'``), after the others.
QUEUE_TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("Name", "name"),
    ("WorkDir", "work_dir"),
    ("STDOUT", "stdout_path"),
    ("STDERR", "stderr_path"),
)

PARTITION_FORMAT = FIELD_SEP.join(["%R", "%a", "%l", "%L", "%D", "%C", "%N", "%P"])

#: sacct's fields for the history: the job's id, then the two a user chooses (name, folder),
#: then fixed ones, ending with one that never holds a newline (where records meet).
HISTORY_FIELDS: tuple[str, ...] = (
    "JobID", "JobName", "WorkDir", "User", "UID", "Account", "Partition", "QOS", "State",
    "ExitCode", "Submit", "Start", "End", "Elapsed", "NNodes", "NodeList", "Timelimit",
    "ElapsedRaw", "TotalCPU", "AllocCPUS", "MaxRSS", "TimelimitRaw", "AllocTRES",
)  # fmt: skip


def queue_separators(nonce: str) -> tuple[str, str]:
    """The separators before each text field and after each record, for one squeue call.

    ``nonce`` is fresh and random per call, so no job that exists before the call can hold them:
    another user's job name cannot split a record or shift a field.
    """
    return "\x1f" + nonce, "\x1e" + nonce


def queue_format(nonce: str) -> str:
    """The ``--Format`` value for :func:`squeue` (suffixes are printed verbatim after each field)."""
    text_sep, record_sep = queue_separators(nonce)
    fixed = [f"{name}:{FIELD_SEP}" for name, _ in QUEUE_FIELDS[:-1]]
    fixed.append(f"{QUEUE_FIELDS[-1][0]}:{text_sep}")
    texts = [f"{name}:{text_sep}" for name, _ in QUEUE_TEXT_FIELDS[:-1]]
    texts.append(f"{QUEUE_TEXT_FIELDS[-1][0]}:{record_sep}")
    return ",".join(fixed + texts)


def squeue(scope: Scope, nonce: str, every_partition: bool = False) -> list[str]:
    """The queue, every state the controller still remembers. ``mine`` lets slurmctld pack only ours.

    ``every_partition`` (``--all``) adds the jobs a plain squeue leaves out: those in hidden
    partitions and in partitions whose AllowGroups the caller is not in (the site cache lists
    them once and filters per user, see slurm_lab/site/policy.py).
    """
    argv = ["squeue", "--noheader", "--states=all", f"--Format={queue_format(nonce)}"]
    if every_partition:
        argv.append("--all")
    if scope == "mine":
        argv.append("--me")
    return argv


def squeue_comments(nonce: str) -> list[str]:
    """Our jobs' base ids and comments (where slurm-lab's submit tags live), every state."""
    _, record_sep = queue_separators(nonce)
    fmt = f"ArrayJobID:{FIELD_SEP},Comment:{record_sep}"
    return ["squeue", "--noheader", "--me", "--states=all", f"--Format={fmt}"]


#: A job id as sbatch prints it, or one array task of it: ``42``, ``42_7``.
_JOB_ID = re.compile(r"[1-9][0-9]{0,9}(?:_(?:0|[1-9][0-9]{0,6}))?", re.ASCII)


def scontrol_job(job_id: str) -> list[str]:
    """One job's records (an array's: each task, and one for its pending tasks): what a
    ``%%slurm`` cell's watcher asks about its own job, for :func:`parsers.parse_job_progress`.

    slurmctld answers one job id with that job alone (REQUEST_JOB_INFO_SINGLE, after the
    federation lookup every CLI makes), never the user's whole queue; squeue would add a
    partition listing. A job the controller has forgotten gets "Invalid job id specified".
    Raises ValueError for anything but a job id.
    """
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"not a Slurm job id: {str(job_id)[:40]!r}")
    return ["scontrol", "show", "job", "--oneliner", job_id]


def scontrol_show_job(job_id: str) -> list[str]:
    """Details; for collapsed pending tasks (``12_[3-9]``, which scontrol show refuses) the array's."""
    return ["scontrol", "show", "job", "--oneliner", job_id.split("_[", 1)[0]]


def sbatch(flags: Sequence[str], tag: str | None = None) -> list[str]:
    """sbatch reading the script from stdin; ``flags`` come from :func:`validation.sbatch_flags`.

    ``tag`` (a word of ``[a-z0-9:-]``) is added to the job's comment, so the job can be found
    again when sbatch's answer was lost (see idempotency.py).
    """
    flags = list(flags)
    if tag is not None:
        at = next((i for i, f in enumerate(flags) if f.startswith("--comment=")), None)
        if at is None:
            flags.append(f"--comment={tag}")
        else:
            flags[at] = f"{flags[at]} {tag}"
    return ["sbatch", "--parsable", *flags]


def sbatch_test_only(flags: Sequence[str]) -> list[str]:
    """sbatch asking the controller when and where the script would start; no job is made."""
    return ["sbatch", "--test-only", *flags]


#: sprio's columns: id, partition, priority, then the weighted factors by name.
PRIORITY_FACTORS = ("age", "fairshare", "job_size", "partition", "qos", "nice")
SPRIO_FORMAT = FIELD_SEP.join(["%i", "%r", "%Y", "%A", "%F", "%J", "%P", "%Q", "%N"])


#: sacct's columns for efficiency: the job's row, then its steps' rows (MaxRSS lives there).
EFFICIENCY_FIELDS = "JobID,State,ElapsedRaw,TotalCPU,AllocCPUS,MaxRSS,TimelimitRaw,AllocTRES"


def sacct_efficiency(job_id: str) -> list[str]:
    """One finished job and its steps, for :func:`efficiency.parse_efficiency`."""
    return ["sacct", "-j", job_id, "--noheader", "--parsable2", f"--delimiter={FIELD_SEP}",
            "-o", EFFICIENCY_FIELDS]  # fmt: skip


def scontrol_batch_script(job_id: str) -> list[str]:
    """The job's batch script as the controller keeps it, on stdout ("-")."""
    return ["scontrol", "write", "batch_script", job_id, "-"]


def scontrol_show_nodes() -> list[str]:
    """Every node, one line each, with the GPUs in use (``-d``: GresUsed)."""
    return ["scontrol", "show", "node", "--oneliner", "--details"]


def assoc_mgr(user: str) -> list[str]:
    """The user's associations and the QOS, each limit with its use (the controller's view)."""
    return ["scontrol", "show", "assoc_mgr", f"users={user}", "flags=assoc,qos"]


def sshare(user: str) -> list[str]:
    """The user's fairshare in each of their accounts."""
    return ["sshare", "-U", "-P", "-n", f"--users={user}",
            "-o", "Account,User,RawShares,NormShares,RawUsage,EffectvUsage,FairShare"]  # fmt: skip


def sprio() -> list[str]:
    """Every pending job's priority and its weighted factors (priority/multifactor only)."""
    return ["sprio", "-h", "-o", SPRIO_FORMAT]


def squeue_priorities() -> list[str]:
    """Every pending job's priority, where sprio cannot say (priority/basic)."""
    return ["squeue", "-h", "-t", "PD", "-o", FIELD_SEP.join(["%i", "%P", "%Q"])]


def scancel(job_ids: Sequence[str]) -> list[str]:
    """``--verbose``: without it scancel exits 0 and says nothing for unknown or finished jobs."""
    return ["scancel", "--verbose", *job_ids]


def scontrol_hold(job_ids: Sequence[str]) -> list[str]:
    return ["scontrol", "hold", ",".join(job_ids)]


def scontrol_release(job_ids: Sequence[str]) -> list[str]:
    return ["scontrol", "release", ",".join(job_ids)]


def sinfo_partitions() -> list[str]:
    return ["sinfo", "--noheader", f"--format={PARTITION_FORMAT}"]


def scontrol_show_partitions() -> list[str]:
    """Every partition, hidden ones too (``--all``), one line each: who may see its jobs."""
    return ["scontrol", "--all", "show", "partition", "--oneliner"]


def scontrol_ping() -> list[str]:
    return ["scontrol", "ping"]


def slurm_version() -> list[str]:
    """Version of the client tools; answered locally, no controller RPC."""
    return ["sinfo", "--version"]


def scontrol_show_config() -> list[str]:
    return ["scontrol", "show", "config"]


def history_separator(nonce: str) -> str:
    """sacct's field separator for one call: fresh and random, so no job name or folder holds it."""
    return "\x1f" + nonce


def sacct(start: str, nonce: str, user: str | None = None) -> list[str]:
    """Jobs since ``start`` from accounting (slurmdbd), each with its steps (their MaxRSS gives
    the efficiency), fields split by :func:`history_separator`."""
    argv = ["sacct", "--noheader", "--parsable2", f"--delimiter={history_separator(nonce)}"]
    argv += [f"--format={','.join(HISTORY_FIELDS)}", f"--starttime={start}"]
    argv += [f"--user={user}"] if user else ["--allusers"]
    return argv


def sacct_job(job_id: str, nonce: str) -> list[str]:
    """One job and its steps from accounting, in :data:`HISTORY_FIELDS` (once the controller
    has forgotten it)."""
    return ["sacct", "--noheader", "--parsable2", f"--delimiter={history_separator(nonce)}",
            f"--format={','.join(HISTORY_FIELDS)}", "-j", job_id]  # fmt: skip
