"""Parse Slurm CLI output into models. Pure functions over text; tested on captured real output."""

from __future__ import annotations

import logging
import re

from ..errors import JobNotFound, UnexpectedOutput
from ..models import (
    HistoricJob,
    Job,
    JobDetails,
    JobProgress,
    JobRow,
    Node,
    Partition,
    PartitionAccess,
    Priority,
    WillRun,
)
from . import argv
from .argv import FIELD_SEP, PRIORITY_FACTORS, QUEUE_FIELDS, QUEUE_TEXT_FIELDS, queue_separators
from .efficiency import efficiency_of
from .states import TERMINAL, base_state

log = logging.getLogger("slurm_lab.parsers")

_ABSENT = frozenset({"", "N/A", "(null)", "None", "n/a", "NONE", "Unknown"})
_NFIXED = len(QUEUE_FIELDS)
_NPARTS = 1 + len(QUEUE_TEXT_FIELDS)


def _opt(value: str) -> str | None:
    return None if value in _ABSENT else value


def parse_queue(text: str, nonce: str) -> list[Job]:
    """:func:`parse_queue_rows` as records."""
    return [Job(*row) for row in parse_queue_rows(text, nonce)]  # type: ignore[arg-type]


def parse_queue_rows(text: str, nonce: str) -> list[JobRow]:
    """Parse ``squeue --Format`` output built by :func:`argv.squeue` with the same ``nonce`` into
    rows of :data:`~slurm_lab.models.JOB_FIELDS` values.

    Any byte may appear in a name or path (a newline, the separators of another call), so a
    record that still does not split into the expected fields is skipped and logged, and the
    rest are served. Output with no record slurm-lab understands raises UnexpectedOutput.
    """
    rows, bad = queue_rows(text, nonce)
    return checked_queue_rows(rows, bad)


def checked_queue_rows(rows: list[JobRow], bad: list[str]) -> list[JobRow]:
    """``rows``, after saying what was skipped (``bad``: the starts of unreadable records)."""
    if bad:
        if not rows:
            raise UnexpectedOutput(f"squeue printed {len(bad)} records slurm-lab cannot read")
        # Only the start of the id: the record's own text is another user's and may be hostile.
        log.warning("skipped %d malformed squeue records (first starts %r)", len(bad), bad[0])
    return rows


def queue_rows(text: str, nonce: str) -> tuple[list[JobRow], list[str]]:
    """The rows of whole squeue records in ``text``, and the starts of those it cannot read.
    This runs on every refresh of big queues, hence the unrolled, call-free body and plain tuples."""
    text_sep, record_sep = queue_separators(nonce)
    absent = _ABSENT
    rows: list[JobRow] = []
    append = rows.append
    bad: list[str] = []
    for record in text.split(record_sep):
        parts = record.lstrip("\n").split(text_sep)
        f = parts[0].split(FIELD_SEP)
        if len(parts) != _NPARTS or len(f) != _NFIXED:
            if record.strip():
                bad.append(f[0][:20])
            continue
        (jid, array_job, task, user, uid, account, partition, state, reason, submit, start, end,
         used, limit, nodes_n, cpus_n, nodes, qos) = f  # fmt: skip
        _, name, work_dir, out, err = parts
        append(
            (
                jid,
                int(array_job) if task != "N/A" and array_job.isdigit() else None,
                None if task in absent else task,
                name,
                user,
                int(uid) if uid.isdigit() else None,
                None if account in absent else account,
                partition,
                state,
                None if reason in absent else reason,
                None if submit in absent else submit,
                None if start in absent else start,
                None if end in absent else end,
                used,
                None if limit in absent else limit,
                int(nodes_n) if nodes_n.isdigit() else 0,
                int(cpus_n) if cpus_n.isdigit() else 0,
                None if nodes in absent else nodes,
                None if work_dir in absent else work_dir,
                None if out in absent else out,
                None if err in absent else err,
                None if qos in absent else qos,
            )
        )
    return rows, bad


# A key starts a token when preceded by a space: "Key=" where Key looks like a Slurm field name
# (capitalised; letters, digits, and the ':/_' of "AllocNode:Sid", "CPUs/Task", "ReqB:S:C:T").
_KEY = re.compile(r"(?:^| )([A-Z][A-Za-z0-9_:/]*)=")
# Free-text fields whose following keys are fixed: read them up to the first place where those
# two keys follow each other, whatever the text holds (a name can contain " src=x UserId=y").
_GREEDY = {"JobName": ("UserId", "GroupId"), "Name": ("JobState", "Partition")}


def parse_key_values(line: str) -> dict[str, str]:
    """Parse one ``scontrol show ... --oneliner`` (or jobcomp) record into ``Key -> value``."""
    line = line.rstrip("\n").rstrip()
    matches = list(_KEY.finditer(line))
    names = [m.group(1) for m in matches]
    kept, i = [], 0
    while i < len(matches):
        kept.append(matches[i])
        follow = _GREEDY.get(names[i])
        i = next(
            (j for j in range(i + 1, len(names) - 1) if follow and (names[j], names[j + 1]) == follow),
            i + 1,
        )
    ends = [m.start() for m in kept[1:]] + [len(line)]
    return {m.group(1): line[m.end() : end] for m, end in zip(kept, ends[: len(kept)], strict=True)}


def parse_job_details(text: str, job_id: str) -> JobDetails:
    """``scontrol show job -o ID``: the record of exactly ``job_id`` (``123`` or ``123_4``).

    An array's id prints one record per task or pending group; the one whose JobId is the id
    asked for is kept. Records about any other job (the CLIs truncate ids to 32 bits) are never
    returned: no matching record raises UnexpectedOutput.
    """
    array_id, _, task = job_id.partition("_")
    records = [parse_key_values(ln) for ln in text.splitlines() if ln.startswith("JobId=")]
    for fields in records:
        if task.startswith("["):  # pending tasks collapsed: the array's own record, while it has them
            pending = fields.get("JobState", "").startswith("PENDING")
            if fields.get("JobId") == array_id == fields.get("ArrayJobId") and pending:
                return JobDetails(job_id, "controller", fields, parse_uid(fields.get("UserId")))
            continue
        if task and (fields.get("ArrayJobId"), fields.get("ArrayTaskId")) == (array_id, task):
            return JobDetails(job_id, "controller", fields, parse_uid(fields.get("UserId")))
        if not task and fields.get("JobId") == job_id:
            return JobDetails(job_id, "controller", fields, parse_uid(fields.get("UserId")))
    if task.startswith("[") and records:
        raise JobNotFound(f"the pending tasks {job_id} have all started or ended")
    about = ", ".join(sorted({f.get("JobId", "?") for f in records})[:3]) or "no job"
    raise UnexpectedOutput(f"scontrol show job {job_id} answered about {about}, not job {job_id}")


def parse_job_progress(text: str, job_id: str) -> list[JobProgress]:
    """:func:`argv.scontrol_job` output: the records of job ``job_id`` (``42``: the job, or each
    task of array 42 and one for its pending tasks, ``42_[4-9%2]``; ``42_7``: that task alone).

    Records about any other job (the CLIs truncate ids to 32 bits) are dropped, so an answer
    with none of ``job_id``'s is an empty list. A record without a state raises ValueError.
    """
    base, _, task = job_id.partition("_")
    records = []
    for line in text.splitlines():
        if not line.startswith("JobId="):
            continue
        f = parse_key_values(line)
        array, tasks = f.get("ArrayJobId"), f.get("ArrayTaskId")
        if array and tasks:
            record_base, record_task = array, tasks
            record_id = f"{array}_{tasks}" if tasks.isdigit() else f"{array}_[{tasks}]"
        else:
            record_base, record_task = f.get("JobId", ""), ""
            record_id = record_base
        if record_base != base or (task and record_task != task):
            continue
        state = f.get("JobState", "")
        if not state:
            raise ValueError(f"no JobState for job {record_id[:40]!r}")
        start, nodes = _opt(f.get("StartTime", "")), _opt(f.get("NodeList", ""))
        records.append(JobProgress(record_id, base_state(state), start, nodes))
    return records


def parse_tagged_job(text: str, nonce: str, tag: str) -> str | None:
    """From :func:`argv.squeue_comments` output, the id of the job whose comment holds ``tag``."""
    _, record_sep = queue_separators(nonce)
    for record in text.split(record_sep):
        job_id, sep, comment = record.lstrip("\n").partition(FIELD_SEP)
        if sep and job_id.isdigit() and tag in comment.split():
            return job_id
    return None


def parse_uid(value: str | None) -> int | None:
    """The number in scontrol's ``UserId=alice(1001)``."""
    m = re.search(r"\((\d+)\)$", value or "")
    return int(m.group(1)) if m else None


def parse_partitions(text: str) -> list[Partition]:
    """``sinfo --format`` with :data:`argv.PARTITION_FORMAT`; lines of one partition are summed."""
    by_name: dict[str, Partition] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, avail, max_time, default_time, nodes, cpus, nodelist, flagged = line.split(FIELD_SEP)
        alloc, idle, _other, total = (int(x) for x in cpus.split("/"))
        part = Partition(
            name=name,
            is_default=flagged.endswith("*"),
            state=avail,
            max_time=_opt(max_time),
            default_time=_opt(default_time),
            total_nodes=int(nodes),
            total_cpus=total,
            idle_cpus=idle,
            allocated_cpus=alloc,
            nodes=nodelist,
        )
        prev = by_name.get(name)
        if prev:
            part = Partition(
                name=name,
                is_default=prev.is_default,
                state=prev.state,
                max_time=prev.max_time,
                default_time=prev.default_time,
                total_nodes=prev.total_nodes + part.total_nodes,
                total_cpus=prev.total_cpus + part.total_cpus,
                idle_cpus=prev.idle_cpus + part.idle_cpus,
                allocated_cpus=prev.allocated_cpus + part.allocated_cpus,
                nodes=f"{prev.nodes},{part.nodes}",
            )
        by_name[name] = part
    return list(by_name.values())


def parse_partition_access(text: str) -> list[PartitionAccess]:
    """:func:`argv.scontrol_show_partitions`: each partition's Hidden and AllowGroups.

    A partition line without Hidden or AllowGroups raises ValueError: guessing either could
    show someone jobs Slurm hides from them.
    """
    out = []
    for line in text.splitlines():
        if not line.startswith("PartitionName="):
            continue
        f = parse_key_values(line)
        hidden, groups = f.get("Hidden"), f.get("AllowGroups")
        if hidden not in ("YES", "NO") or not groups:
            raise ValueError(f"no Hidden or AllowGroups for partition {f['PartitionName'][:40]!r}")
        allowed = None if groups == "ALL" else frozenset(g for g in groups.split(",") if g)
        out.append(PartitionAccess(f["PartitionName"], hidden == "YES", allowed))
    return out


def parse_sbatch_job_id(text: str) -> str:
    """``sbatch --parsable`` prints ``jobid`` or ``jobid;cluster``."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    job_id = first.split(";", 1)[0]
    if not job_id.isdigit():
        raise ValueError(f"unexpected sbatch output {first[:80]!r}")
    return job_id


def parse_priorities(text: str) -> list[Priority]:
    """:func:`argv.sprio` (9 fields) or :func:`argv.squeue_priorities` (3 fields) output."""
    out = []
    for line in text.splitlines():
        f = line.strip().split(FIELD_SEP)
        if len(f) == 9:
            factors = {name: int(float(v)) for name, v in zip(PRIORITY_FACTORS, f[3:], strict=True)}
            out.append(Priority(f[0].strip(), f[1].strip(), int(float(f[2])), factors))
        elif len(f) == 3:
            out.append(Priority(f[0].strip(), f[1].strip(), int(float(f[2]))))
        elif line.strip():
            raise ValueError(f"unexpected priority line {line[:80]!r}")
    return out


def gpu_count(gres: str | None) -> int:
    """GPUs in a gres string: ``gpu:2``, ``gpu:a100:2(S:0-1)``, ``gpu:a100:1(IDX:0),gpu:v100:1``."""
    total = 0
    for part in (gres or "").split(","):
        m = re.match(r"gpu(?::[^:(]+)?:(\d+)", part.strip())
        if m:
            total += int(m.group(1))
    return total


def parse_nodes(text: str) -> list[Node]:
    """``scontrol show node --oneliner --details``: one Node per line."""
    nodes = []
    for line in text.splitlines():
        if not line.startswith("NodeName="):
            continue
        f = parse_key_values(line)
        nodes.append(
            Node(
                name=f["NodeName"],
                state=f.get("State", "").lower(),
                partitions=[p.strip() for p in f.get("Partitions", "").split(",") if p.strip()],
                cpus_total=int(f.get("CPUTot") or 0),
                cpus_allocated=int(f.get("CPUAlloc") or 0),
                memory_total_mb=int(f.get("RealMemory") or 0),
                memory_allocated_mb=int(f.get("AllocMem") or 0),
                gpus_total=gpu_count(f.get("Gres")),
                gpus_allocated=gpu_count(f.get("GresUsed")),
                features=_opt(f.get("AvailableFeatures", "")),
                reason=_opt(f.get("Reason", "")),
            )
        )
    return nodes


_WILL_RUN = re.compile(
    r"Job \d+ to start at (?P<start>\S+) using (?P<cpus>\d+) processors on nodes (?P<nodes>\S+)"
    r"(?: in partition (?P<partition>\S+))?"
)


def parse_will_run(text: str) -> WillRun:
    """``sbatch --test-only``'s answer (on stderr): "Job 7 to start at T using 2 processors on
    nodes c1 in partition debug" (the job number is only what the next job would get)."""
    m = _WILL_RUN.search(text)
    if m is None:
        raise ValueError(f"unexpected sbatch --test-only output {text.strip()[:80]!r}")
    return WillRun(m["start"], m["nodes"], m["partition"], int(m["cpus"]))


def parse_history(text: str, nonce: str) -> list[HistoricJob]:
    """sacct's rows (:data:`argv.HISTORY_FIELDS`, split by :func:`argv.history_separator`) as
    finished jobs, each with its efficiency once it has ended."""
    rows, steps = _accounting_rows(text, nonce)
    return [_historic(r, steps.get(r["JobID"], [])) for r in rows]


def parse_accounted_job(text: str, nonce: str, job_id: str) -> JobDetails | None:
    """One job's record from accounting (:func:`argv.sacct_job`) in ``scontrol show job``'s
    words, with its efficiency once it ended; None when accounting has no such job."""
    rows, steps = _accounting_rows(text, nonce)
    r = next((r for r in rows if r["JobID"] == job_id), None)
    if r is None:
        return None
    job = _historic(r, steps.get(job_id, []))
    limit = durations_to_seconds(r["Timelimit"])
    fields = {
        "JobId": job_id,
        "JobName": job.name,
        "UserId": f"{job.user}({r['UID']})",
        "Account": r["Account"],
        "QOS": r["QOS"],
        "JobState": job.state,
        "ExitCode": job.exit_code or "",
        "Partition": job.partition or "",
        "NodeList": job.nodes or "",
        "NumNodes": str(job.num_nodes or ""),
        "NumCPUs": r["AllocCPUS"],
        "RunTime": job.elapsed or "",
        "TimeLimit": r["Timelimit"] if limit is not None else "",
        "SubmitTime": job.submit_time or "",
        "StartTime": job.start_time or "",
        "EndTime": job.end_time or "",
        "WorkDir": job.work_dir or "",
        "TRES": r["AllocTRES"],
    }
    uid = int(r["UID"]) if r["UID"].isdigit() else None
    fields = {k: v for k, v in fields.items() if v not in ("", "Unknown", "None")}
    return JobDetails(job_id, "accounting", fields, uid, efficiency=job.efficiency)


def _accounting_rows(text: str, nonce: str) -> tuple[list[dict[str, str]], dict[str, list[dict[str, str]]]]:
    """sacct's records as dicts: the jobs, and each job's steps by job id."""
    width = len(argv.HISTORY_FIELDS)
    rows: list[dict[str, str]] = []
    row: list[str] = []
    for cell in text.split(argv.history_separator(nonce)):
        if len(row) == width - 1:  # the record's last field, a newline, the next record's first
            last, _, first = cell.partition("\n")
            rows.append(dict(zip(argv.HISTORY_FIELDS, [*row, last], strict=True)))
            row = [first]
        else:
            row.append(cell)
    steps: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        job_id, dot, _ = r["JobID"].partition(".")
        if dot:
            steps.setdefault(job_id, []).append(r)
    return [r for r in rows if "." not in r["JobID"]], steps


def _historic(r: dict[str, str], steps: list[dict[str, str]]) -> HistoricJob:
    state = base_state(r["State"]) if r["State"] else "UNKNOWN"
    return HistoricJob(
        job_id=r["JobID"],
        name=r["JobName"],
        user=re.sub(r"\(\d+\)$", "", r["User"]),
        partition=_opt(r["Partition"]),
        state=state,
        exit_code=_opt(r["ExitCode"]),
        submit_time=_opt(r["Submit"]),
        start_time=_opt(r["Start"]),
        end_time=_opt(r["End"]),
        elapsed=_opt(r["Elapsed"]),
        num_nodes=int(r["NNodes"]) if r["NNodes"].isdigit() else None,
        nodes=_opt(r["NodeList"]),
        work_dir=_opt(r["WorkDir"]),
        efficiency=efficiency_of(r["JobID"], r, steps) if state in TERMINAL else None,
    )


def parse_jobcomp(text: str) -> list[HistoricJob]:
    """Records of a ``jobcomp/filetxt`` log (one ``Key=value`` line per finished job)."""
    jobs = []
    for line in text.splitlines():
        f = parse_key_values(line)
        if "JobId" not in f:
            continue  # a partial first line when reading the file's tail
        nodes = f.get("NodeCnt", "")
        jobs.append(
            HistoricJob(
                job_id=f["JobId"],
                name=f.get("Name", ""),
                user=re.sub(r"\(\d+\)$", "", f.get("UserId", "")),
                partition=_opt(f.get("Partition", "")),
                state=base_state(f.get("JobState", "UNKNOWN")),
                exit_code=_opt(f.get("ExitCode", "")),
                submit_time=_opt(f.get("SubmitTime", "")),
                start_time=_opt(f.get("StartTime", "")),
                end_time=_opt(f.get("EndTime", "")),
                elapsed=None,
                num_nodes=int(nodes) if nodes.isdigit() else None,
                nodes=_opt(f.get("NodeList", "")),
                work_dir=_opt(f.get("WorkDir", "")),
            )
        )
    return jobs


def parse_config(text: str) -> dict[str, str]:
    """``scontrol show config`` as ``Key -> value`` (``Key = value`` lines)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and " " not in key.strip():
            out[key.strip()] = value.strip()
    return out


#: Where libmunge looks when slurm.conf names no socket (Debian and most builds).
DEFAULT_MUNGE_SOCKET = "/run/munge/munge.socket.2"


def parse_munge_socket(slurm_conf: str) -> str:
    """The munge socket Slurm's CLIs use: ``AuthInfo=...socket=PATH`` in slurm.conf, else the default."""
    for line in slurm_conf.splitlines():
        key, _, value = line.split("#", 1)[0].strip().partition("=")
        if key.strip().lower() == "authinfo":
            for item in value.split(","):
                name, _, path = item.strip().partition("=")
                if name == "socket" and path:
                    return path
    return DEFAULT_MUNGE_SOCKET


def parse_ping(text: str) -> bool:
    """``scontrol ping``: True when the primary controller reports UP."""
    return bool(re.search(r"\bis UP\b", text))


def parse_version(text: str) -> str | None:
    m = re.search(r"(\d+\.\d+\.\d+\S*)", text)
    return m.group(1) if m else None


def durations_to_seconds(value: str | None) -> int | None:
    """Slurm's ``[D-]HH:MM:SS`` / ``MM:SS`` / minutes to seconds; None for unlimited or absent,
    and for sacct's ``Partition_Limit`` (a job that asked for none and never ran)."""
    if not value or value in _ABSENT or value.upper() in {"UNLIMITED", "INFINITE", "PARTITION_LIMIT"}:
        return None
    days, _, rest = value.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if len(parts) == 1:  # plain minutes
        parts = [0, parts[0], 0]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return (int(days) if days else 0) * 86400 + h * 3600 + m * 60 + s
