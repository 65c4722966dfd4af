"""slurmrestd's JSON (OpenAPI v0.0.36 to v0.0.38, Slurm 22.05) to and from slurm-lab's records. Pure.

The records match what the CLI scheduler parses from squeue and scontrol for the same jobs
(one conformance suite checks it), so the panel cannot tell which way in was used.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..models import Job, JobDetails, JobProgress, Node, Partition, Priority
from .options import BY_NAME, OPTIONS
from .parsers import gpu_count

#: The OpenAPI versions slurm-lab speaks, newest first.
SUPPORTED_VERSIONS = ("v0.0.38", "v0.0.37", "v0.0.36")
_VERSION_PATH = re.compile(r"^/slurm/(v\d+\.\d+\.\d+)/")


def offered_versions(openapi: Mapping[str, Any]) -> list[str]:
    """The ``/slurm/vX.Y.Z/`` versions an ``/openapi/v3`` document lists, sorted."""
    found = {m.group(1) for p in openapi.get("paths", {}) if (m := _VERSION_PATH.match(p))}
    return sorted(found, key=lambda v: tuple(int(x) for x in v[1:].split(".")))


def pick_version(offered: list[str]) -> str | None:
    """The newest version both sides speak, or None."""
    return next((v for v in SUPPORTED_VERSIONS if v in offered), None)


# ------------------------------------------------------------------ formats as the CLIs print them
def slurm_duration(seconds: int) -> str:
    """Seconds as squeue prints a run time or limit: ``M:SS``, ``H:MM:SS`` or ``D-HH:MM:SS``."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


_NEVER = 4102444800  # 2100-01-01: later "times" are Slurm's placeholders for "unknown"


def _when(ts: Any) -> str | None:
    """A Unix time as squeue prints it (local time, no zone); 0 and absent are None."""
    if not isinstance(ts, int) or ts <= 0 or ts >= _NEVER:
        return None
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%dT%H:%M:%S")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != "None" else None


def _limit(job: Mapping[str, Any]) -> str:
    minutes = job.get("time_limit")
    return slurm_duration(minutes * 60) if isinstance(minutes, int) and minutes < 0xFFFFFFFE else "UNLIMITED"


_ACTIVE = ("RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "SIGNALING", "STAGE_OUT")


def _used(job: Mapping[str, Any], now: float) -> str:
    start, state = job.get("start_time") or 0, job.get("job_state", "")
    if not start or state == "PENDING":
        return "0:00"
    end = int(now) if state in _ACTIVE else (job.get("end_time") or int(now))
    return slurm_duration(int(end) - int(start))


def job_id_of(job: Mapping[str, Any]) -> str:
    """``42``, ``42_3`` for an array task, or ``42_[4-9]`` for pending tasks in one record."""
    array_job = job.get("array_job_id") or 0
    if not array_job:
        return str(job["job_id"])
    task = job.get("array_task_id")
    if task is not None:
        return f"{array_job}_{task}"
    spec = job.get("array_task_string")
    return f"{array_job}_[{spec}]" if spec else str(job["job_id"])


def output_path(job: Mapping[str, Any], stream: str) -> str | None:
    """The job's stdout/stderr file as sbatch resolves it: the default name, relative to the
    working directory, ``%`` patterns expanded (slurmrestd returns them as submitted)."""
    array = bool(job.get("array_job_id"))
    out = job.get("standard_output") or ("slurm-%A_%a.out" if array else "slurm-%j.out")
    pattern = (job.get("standard_error") or out) if stream == "stderr" else out
    if pattern == "/dev/null":
        return pattern
    cwd = job.get("current_working_directory") or ""
    if not pattern.startswith("/"):
        pattern = f"{cwd.rstrip('/')}/{pattern}"
    return expand_pattern(pattern, job)


def expand_pattern(pattern: str, job: Mapping[str, Any]) -> str:
    """sbatch's filename patterns (``%j %A %a %x %u %N %%``), zero-padded forms included."""
    task = job.get("array_task_id")
    values = {
        "j": str(job.get("job_id", "")),
        "A": str(job.get("array_job_id") or job.get("job_id", "")),
        "a": str(task) if task is not None else "4294967294",
        "x": str(job.get("name", "")),
        "u": str(job.get("user_name", "")),
        "N": (str(job.get("batch_host") or "") or str(job.get("nodes") or "")).split(",")[0],
        "n": "0",
        "t": "0",
        "s": "batch",
    }

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        value = values.get(m.group(2), m.group(0))
        width = int(m.group(1)) if m.group(1) else 0
        return value.zfill(width) if value.isdigit() else value

    return re.sub(r"%%|%(\d?)([jAaxuNnts])", one, pattern)


def parse_jobs(payload: Mapping[str, Any], now: float | None = None) -> list[Job]:
    """``GET jobs`` (or ``GET job/{id}``) as queue records."""
    now = time.time() if now is None else now
    jobs = []
    for j in payload.get("jobs", []):
        array_job = j.get("array_job_id") or 0
        task = j.get("array_task_id")
        running_unlimited = j.get("job_state") in ("RUNNING", "SUSPENDED") and _limit(j) == "UNLIMITED"
        jobs.append(
            Job(
                job_id_of(j),
                array_job or None,
                (str(task) if task is not None else j.get("array_task_string")) if array_job else None,
                j.get("name", ""),
                j.get("user_name", ""),
                j.get("user_id"),
                _text(j.get("account")),
                j.get("partition", ""),
                j.get("job_state", ""),
                _text(j.get("state_reason")),
                _when(j.get("submit_time")),
                _when(j.get("start_time")),
                None if running_unlimited else _when(j.get("end_time")),
                _used(j, now),
                _limit(j),
                j.get("node_count") or 0,
                j.get("cpus") or _requested_cpus(j.get("tres_req_str")),
                _text(j.get("nodes")),
                _text(j.get("current_working_directory")),
                output_path(j, "stdout"),
                output_path(j, "stderr"),
                _text(j.get("qos")),
            )
        )
    return jobs


def _requested_cpus(tres: Any) -> int:
    """``cpu=4,mem=...`` -> 4: a finished job's CPUs, which slurmrestd no longer reports."""
    m = re.search(r"(?:^|,)cpu=(\d+)", tres) if isinstance(tres, str) else None
    return int(m.group(1)) if m else 0


def parse_priorities(payload: Mapping[str, Any]) -> list[Priority]:
    """Pending jobs' priorities from ``GET jobs`` (slurmrestd 22.05 has no sprio)."""
    return [
        Priority(job_id_of(j), j.get("partition", ""), int(j.get("priority") or 0))
        for j in payload.get("jobs", [])
        if j.get("job_state") == "PENDING"
    ]


def parse_nodes(payload: Mapping[str, Any]) -> list[Node]:
    """``GET nodes`` as node records, as :func:`parsers.parse_nodes` reads scontrol's."""
    nodes = []
    for n in payload.get("nodes", []):
        flags = [str(f).lower() for f in n.get("state_flags") or []]
        nodes.append(
            Node(
                name=n.get("name", ""),
                state="+".join([str(n.get("state", "")).lower(), *flags]),
                partitions=list(n.get("partitions") or []),
                cpus_total=n.get("cpus") or 0,
                cpus_allocated=n.get("alloc_cpus") or 0,
                memory_total_mb=n.get("real_memory") or 0,
                memory_allocated_mb=n.get("alloc_memory") or 0,
                gpus_total=gpu_count(n.get("gres")),
                gpus_allocated=gpu_count(n.get("gres_used")),
                features=_text(n.get("features")),
                reason=_text(n.get("reason")),
            )
        )
    return nodes


#: scontrol's names for the fields the panel's details view leads with.
_DETAIL_NAMES = {
    "job_id": "JobId", "array_job_id": "ArrayJobId", "array_task_id": "ArrayTaskId", "name": "JobName",
    "user": "UserName", "user_id": "UserId", "account": "Account", "partition": "Partition",
    "state": "JobState", "reason": "Reason", "submit_time": "SubmitTime", "start_time": "StartTime",
    "end_time": "EndTime", "time_used": "RunTime", "time_limit": "TimeLimit", "num_nodes": "NumNodes",
    "num_cpus": "NumCPUs", "nodes": "NodeList", "work_dir": "WorkDir", "stdout_path": "StdOut",
    "stderr_path": "StdErr", "qos": "QOS",
}  # fmt: skip


def parse_job_details(payload: Mapping[str, Any], job_id: str) -> JobDetails | None:
    """The one record of ``GET job/{id}`` that is ``job_id`` (as scontrol names its fields,
    then every other scalar slurmrestd reports), or None when it is not there."""
    for raw, job in zip(payload.get("jobs", []), parse_jobs(payload), strict=True):
        if job.job_id != job_id and str(raw.get("job_id")) != job_id:
            continue
        fields = {
            _DETAIL_NAMES[k]: str(v) for k in _DETAIL_NAMES if (v := getattr(job, k)) is not None and v != ""
        }
        for key, value in raw.items():
            if isinstance(value, str | int | float | bool) and value not in ("", None):
                fields.setdefault(key, str(value))
        return JobDetails(job.job_id, "controller", fields, job.user_id)
    return None


def parse_job_progress(payload: Mapping[str, Any], job_id: str) -> list[JobProgress]:
    """``GET job/{id}`` as :func:`parsers.parse_job_progress` reads squeue's: the records of job
    ``job_id`` (an array's tasks and pending groups, or the one task ``42_7``), no other job's."""
    base, _, task = job_id.partition("_")
    return [
        JobProgress(job.job_id, job.state, job.start_time, job.nodes)
        for job in parse_jobs(payload)
        if job.job_id.partition("_")[0] == base and (not task or job.job_id.partition("_")[2] == task)
    ]


def parse_partitions(payload: Mapping[str, Any], nodes: Mapping[str, Any]) -> list[Partition]:
    """``GET partitions`` plus ``GET nodes`` (for idle and allocated CPUs) as partition records."""
    out = []
    for p in payload.get("partitions", []):
        name = p.get("name", "")
        members = [n for n in nodes.get("nodes", []) if name in (n.get("partitions") or [])]
        usable = [n for n in members if str(n.get("state", "")).lower() in ("idle", "mixed", "allocated")]
        out.append(
            Partition(
                name=name,
                is_default="default" in (p.get("flags") or []),
                state=str(p.get("state", "")).lower(),
                max_time=_minutes(p.get("max_time_limit"), "infinite"),
                default_time=_minutes(p.get("default_time_limit"), None),
                total_nodes=p.get("total_nodes") or len(members),
                total_cpus=p.get("total_cpus") or sum(n.get("cpus") or 0 for n in members),
                idle_cpus=sum(n.get("idle_cpus") or 0 for n in usable),
                allocated_cpus=sum(n.get("alloc_cpus") or 0 for n in members),
                nodes=p.get("nodes", ""),
            )
        )
    return out


def _minutes(value: Any, unset: str | None) -> str | None:
    if not isinstance(value, int) or value < 0 or value >= 0xFFFFFFFE:
        return unset
    return slurm_duration(value * 60)


def errors_of(payload: Mapping[str, Any]) -> list[str]:
    """slurmrestd's error messages (``errors[].error`` and ``description``), most specific first."""
    out = []
    for e in payload.get("errors") or []:
        if isinstance(e, Mapping):
            text = e.get("description") or e.get("error") or ""
            if e.get("error") and e.get("error") not in text:
                text = f"{text}: {e['error']}" if text else e["error"]
            if text:
                out.append(str(text))
    return out


def slurm_error_codes(payload: Mapping[str, Any]) -> list[int]:
    """Slurm's own error numbers in ``errors`` (ESLURM_*, 2000 and up): a refusal by Slurm,
    not a failure of slurmrestd or its authentication (those are -1 "Unspecified error")."""
    codes = []
    for e in payload.get("errors") or []:
        code = e.get("error_code", e.get("error_number")) if isinstance(e, Mapping) else None
        if isinstance(code, int) and code >= 2000:
            codes.append(code)
    return codes


# ------------------------------------------------------------------ submit: options -> job fields
_MEM_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def _megabytes(text: str) -> int:
    unit = text[-1] if text[-1] in _MEM_UNITS else "M"
    number = int(text[:-1] if text[-1] in _MEM_UNITS else text)
    return max(1, int(number * _MEM_UNITS[unit]))


def _time_minutes(text: str) -> int:
    """sbatch's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (seconds round up)."""
    days, _, clock = text.rpartition("-") if "-" in text else ("0", "", text)
    parts = [int(p) for p in clock.split(":")]
    if len(parts) > 3:
        raise ValueError(text)
    if "-" in text:
        h, m, s = [*parts, 0, 0][:3]
    elif len(parts) == 3:
        h, m, s = parts
    elif len(parts) == 2:
        h, m, s = 0, parts[0], parts[1]
    else:
        h, m, s = 0, parts[0], 0
    return int(days or 0) * 1440 + h * 60 + m + (1 if s else 0)


def _nodes(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return [int(low), int(high or low)]


#: How a value becomes a slurmrestd job field (the ``:name`` in the option table's ``rest``).
CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "str": str, "int": int, "minutes": _time_minutes, "mb": _megabytes, "range": _nodes,
    "yes": lambda v: v == "yes", "bool": bool, "true": lambda v: "true", "false": lambda v: False,
}  # fmt: skip
#: API option name -> (slurmrestd job field, conversion), from the option table. Options without
#: one cannot be sent through slurmrestd 22.05 and are refused by name, never dropped.
REST_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    o.name: (o.rest.partition(":")[0], CONVERSIONS[o.rest.partition(":")[2] or "str"])
    for o in OPTIONS
    if o.rest
}


class NotExpressible(ValueError):
    """An option slurmrestd 22.05 has no field (or value) for."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"{name}: {why}")
        self.name = name


class InvalidValue(ValueError):
    """A value sbatch itself would refuse (e.g. ``--time=1:2:3:4``)."""

    def __init__(self, flag: str, value: str) -> None:
        super().__init__(f"Invalid {flag} specification: {value}")


def has_task(payload: Mapping[str, Any], task: int) -> bool:
    """Whether ``GET job/{array}`` lists array task ``task``, on its own or among the pending
    tasks of the array's one record (``2-9:2%4``)."""
    for job in payload.get("jobs", []):
        if job.get("array_task_id") == task:
            return True
        spec = str(job.get("array_task_string") or "").split("%")[0]
        for part in filter(None, spec.split(",")):
            span, _, step = part.partition(":")
            low, _, high = span.partition("-")
            if int(low) <= task <= int(high or low) and (task - int(low)) % int(step or 1) == 0:
                return True
    return False


def task_ids(job_id: str, limit: int) -> list[str]:
    """``42_[2-4,7]`` -> ``42_2 42_3 42_4 42_7`` (slurmrestd takes no bracketed ids); a plain id
    stays itself. More than ``limit`` tasks raise NotExpressible."""
    m = re.fullmatch(r"(\d+)_\[([\d,-]+)\]", job_id)
    if m is None:
        return [job_id]
    tasks: list[str] = []
    for part in m.group(2).split(","):
        low, _, high = part.partition("-")
        count = int(high or low) - int(low) + 1
        if len(tasks) + count > limit:
            raise NotExpressible("job_id", f"{job_id} holds more than {limit} tasks; act on the whole array")
        tasks.extend(f"{m.group(1)}_{t}" for t in range(int(low), int(high or low) + 1))
    return tasks


def job_fields(options: Mapping[str, str | bool]) -> dict[str, Any]:
    """Validated options (by API name) as slurmrestd job fields; NotExpressible names what cannot
    be sent, so a job is never submitted without something the user asked for."""
    fields: dict[str, Any] = {}
    for name, value in options.items():
        if name not in REST_FIELDS:
            flag = BY_NAME[name].flag if name in BY_NAME else name
            raise NotExpressible(name, f"{flag} cannot be sent through slurmrestd 22.05")
        if name == "time" and value in ("UNLIMITED", "INFINITE"):
            raise NotExpressible(name, "an unlimited time limit cannot be sent through slurmrestd 22.05")
        key, convert = REST_FIELDS[name]
        try:
            fields[key] = convert(value)
        except NotExpressible:
            raise
        except (ValueError, IndexError):
            raise InvalidValue(BY_NAME[name].flag, str(value)) from None
    return fields
