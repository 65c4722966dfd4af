"""Parse Slurm CLI output into models. Pure functions over text; tested on captured real output."""

from __future__ import annotations

import re

from ..models import HistoricJob, Job, JobDetails, Partition
from .argv import FIELD_SEP, QUEUE_FIELDS, RECORD_SEP

_ABSENT = frozenset({"", "N/A", "(null)", "None", "n/a", "NONE", "Unknown"})
_NFIELDS = len(QUEUE_FIELDS)
_NAME_AT = [attr for _, attr in QUEUE_FIELDS].index("name")


def _opt(value: str) -> str | None:
    return None if value in _ABSENT else value


def parse_queue(text: str) -> list[Job]:
    """Parse ``squeue --Format`` output built by :func:`argv.squeue` into jobs.

    Records end with RECORD_SEP so names holding newlines survive; a name holding FIELD_SEP
    (possible when submitted outside slurm-lab) is rejoined from the surplus fields. This runs
    on every refresh of big queues, hence the unrolled, call-free body.
    """
    absent = _ABSENT
    jobs: list[Job] = []
    append = jobs.append
    for record in text.split(RECORD_SEP):
        f = record.lstrip("\n").split(FIELD_SEP)
        if len(f) != _NFIELDS:
            if f == [""]:
                continue
            f = _rejoin_name(f)
        (jid, array_job, task, name, user, account, partition, state, reason, submit, start, end,
         used, limit, nodes_n, cpus_n, nodes, work_dir, out, err, qos) = f  # fmt: skip
        append(
            Job(
                jid,
                int(array_job) if task != "N/A" and array_job.isdigit() else None,
                None if task in absent else task,
                name,
                user,
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
    return jobs


def _rejoin_name(f: list[str]) -> list[str]:
    surplus = len(f) - _NFIELDS
    if surplus < 0:
        raise ValueError(f"squeue record has {len(f)} fields, expected {_NFIELDS}")
    return [*f[:_NAME_AT], FIELD_SEP.join(f[_NAME_AT : _NAME_AT + surplus + 1]), *f[_NAME_AT + surplus + 1 :]]


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
    """``scontrol show job -o ID``: one line per job (several for an array); the first is used."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("scontrol printed no job record")
    return JobDetails(job_id=job_id, source="controller", fields=parse_key_values(lines[0]))


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


def parse_sbatch_job_id(text: str) -> str:
    """``sbatch --parsable`` prints ``jobid`` or ``jobid;cluster``."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    job_id = first.split(";", 1)[0]
    if not job_id.isdigit():
        raise ValueError(f"unexpected sbatch output {first[:80]!r}")
    return job_id


def parse_history(text: str) -> list[HistoricJob]:
    """``sacct --parsable2`` with :data:`argv.HISTORY_FIELDS` (13 fields, ``|``-separated)."""
    jobs = []
    for line in text.splitlines():
        f = line.split("|")
        if len(f) < 13:
            continue
        if len(f) > 13:  # a '|' in the job name
            f[1 : len(f) - 11] = ["|".join(f[1 : len(f) - 11])]
        jobs.append(
            HistoricJob(
                job_id=f[0],
                name=f[1],
                user=re.sub(r"\(\d+\)$", "", f[2]),
                partition=_opt(f[3]),
                state=f[4].split(" ")[0] if f[4] else "UNKNOWN",
                exit_code=_opt(f[5]),
                submit_time=_opt(f[6]),
                start_time=_opt(f[7]),
                end_time=_opt(f[8]),
                elapsed=_opt(f[9]),
                num_nodes=int(f[10]) if f[10].isdigit() else None,
                nodes=_opt(f[11]),
                work_dir=_opt(f[12]),
            )
        )
    return jobs


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
                state=f.get("JobState", "UNKNOWN").split(" ")[0],
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


def parse_ping(text: str) -> bool:
    """``scontrol ping``: True when the primary controller reports UP."""
    return bool(re.search(r"\bis UP\b", text))


def parse_version(text: str) -> str | None:
    m = re.search(r"(\d+\.\d+\.\d+\S*)", text)
    return m.group(1) if m else None


def durations_to_seconds(value: str | None) -> int | None:
    """Slurm's ``[D-]HH:MM:SS`` / ``MM:SS`` / minutes to seconds; None for unlimited or absent."""
    if not value or value in _ABSENT or value.upper() in {"UNLIMITED", "INFINITE"}:
        return None
    days, _, rest = value.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if len(parts) == 1:  # plain minutes
        parts = [0, parts[0], 0]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return (int(days) if days else 0) * 86400 + h * 3600 + m * 60 + s
