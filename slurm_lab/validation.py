"""Allow-list validation of everything a client sends before any process is started.

Nothing here trusts that argv is never shell-interpreted: values are refused when they hold
control characters, shell metacharacters that no Slurm option needs, or a leading ``-``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidInput
from .models import QueueFormat, Scope, Stream
from .slurm.options import BY_NAME
from .slurm.states import COMPACT_STATES, JOB_STATES

JOB_ID = re.compile(r"(?P<job>[1-9][0-9]{0,9})(?:_(?P<task>0|[1-9][0-9]{0,6}))?", re.ASCII)
_TASK = r"(?:0|[1-9][0-9]{0,6})"
COLLAPSED_TASKS = re.compile(
    rf"(?P<job>[0-9]{{1,10}})_\[(?P<spec>{_TASK}(?:-{_TASK})?(?:,{_TASK}(?:-{_TASK})?){{0,99}})(?:%[0-9]{{1,7}})?\]",
    re.ASCII,
)
#: Slurm job ids are 32-bit; 0xFFFFFFFE (NO_VAL) and 0xFFFFFFFF (INFINITE) are never jobs. The CLIs
#: truncate larger numbers to 32 bits, so 2**32 + 7 would act on job 7: refuse them here.
MAX_JOB_ID = 0xFFFFFFFD
#: MaxArraySize may not exceed 4,000,001, so task ids are 0..4,000,000.
MAX_ARRAY_TASK_ID = 4_000_000
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_NAME = r"[A-Za-z0-9_.+-]+"
_NAMES = rf"{_NAME}(,{_NAME})*"


#: Every sbatch option the API accepts (name -> flag, allowed value shape, example): the table in
#: slurm/options.py, the one place an option is added.
SBATCH_OPTIONS = BY_NAME


def job_id(value: Any, field: str = "job_id") -> str:
    """A job id as Slurm shows it: ``123``, ``123_4`` (array task) or ``123_[4-9,12]`` (pending
    tasks collapsed in one queue row; a ``%2`` throttle is dropped), within Slurm's ranges.

    The collapsed form is what scancel and scontrol act on exactly: those tasks, not the array's
    running ones.
    """
    tasks = COLLAPSED_TASKS.fullmatch(value) if isinstance(value, str) else None
    if tasks is not None:
        job_id(tasks["job"], field)
        for number in re.findall(r"\d+", tasks["spec"]):
            if len(number) > 7 or int(number) > MAX_ARRAY_TASK_ID:
                raise InvalidInput(
                    field, f"array task {number[:12]} is beyond Slurm's largest ({MAX_ARRAY_TASK_ID})"
                )
        for low, high in re.findall(r"(\d+)-(\d+)", tasks["spec"]):
            if int(low) > int(high):
                raise InvalidInput(field, f"task range {low}-{high} is reversed (it names no task)")
        return f"{tasks['job']}_[{tasks['spec']}]"
    m = JOB_ID.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise InvalidInput(field, "must look like 123, 123_4 or 123_[4-9]")
    if int(m["job"]) > MAX_JOB_ID:
        raise InvalidInput(field, f"{m['job']} is beyond Slurm's largest job id ({MAX_JOB_ID})")
    if m["task"] is not None and int(m["task"]) > MAX_ARRAY_TASK_ID:
        raise InvalidInput(field, f"array task {m['task']} is beyond Slurm's largest ({MAX_ARRAY_TASK_ID})")
    return m.group(0)


def job_ids(values: Any, field: str = "job_ids", limit: int = 1000) -> list[str]:
    if not isinstance(values, list) or not values:
        raise InvalidInput(field, "must be a non-empty list of job ids")
    if len(values) > limit:
        raise InvalidInput(field, f"at most {limit} job ids at once")
    return [job_id(v, f"{field}[{i}]") for i, v in enumerate(values)]


def scope(value: str | None) -> Scope:
    if value in (None, "", "mine"):
        return "mine"
    if value == "all":
        return "all"
    raise InvalidInput("scope", "must be 'mine' or 'all'")


def queue_format(value: str | None) -> QueueFormat:
    if value in (None, "", "objects"):
        return "objects"
    if value == "table":
        return "table"
    raise InvalidInput("format", "must be 'objects' or 'table'")


def states(value: str | None) -> frozenset[str] | None:
    """A comma list of job states (long or compact, any case) -> long names; None means any."""
    if not value:
        return None
    out = set()
    for raw in value.split(","):
        name = raw.strip().upper()
        name = COMPACT_STATES.get(name, name)
        if name not in JOB_STATES:
            raise InvalidInput("state", f"unknown job state {raw.strip()[:40]!r}")
        out.add(name)
    return frozenset(out)


def partitions(value: str | None) -> frozenset[str] | None:
    if not value:
        return None
    if not re.fullmatch(_NAMES, value, re.ASCII):
        raise InvalidInput("partition", "must be partition names separated by commas")
    return frozenset(value.split(","))


def stream(value: str | None) -> Stream:
    if value in (None, "", "stdout"):
        return "stdout"
    if value == "stderr":
        return "stderr"
    raise InvalidInput("stream", "must be 'stdout' or 'stderr'")


def offset(value: str | None) -> int:
    if value in (None, ""):
        return 0
    if not re.fullmatch(r"[0-9]{1,15}", value):
        raise InvalidInput("offset", "must be a non-negative integer")
    return int(value)


_SINCE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?", re.ASCII)
_SINCE_RELATIVE = re.compile(r"now-(\d{1,4})(days|hours|minutes)", re.ASCII)


def since(value: str | None, now: datetime | None = None) -> str:
    """Start of a history window as local ISO time: ``2026-11-01``, ``2026-11-01T08:00``, ``now-7days``."""
    now = now or datetime.now()
    if not value:
        value = "now-1days"
    rel = _SINCE_RELATIVE.fullmatch(value)
    if rel:
        delta = timedelta(**{rel.group(2): int(rel.group(1))})
        # To the minute: the same window for a minute, so answers can be shared and cached.
        return (now - delta).isoformat(timespec="minutes")
    if not _SINCE.fullmatch(value):
        raise InvalidInput("since", "must look like 2026-11-01, 2026-11-01T08:00 or now-7days")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("since", f"{value} is not a date and time that exists") from None
    return value


def script(value: Any, max_bytes: int) -> bytes:
    """The batch script, as the bytes sbatch will read on stdin."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("script", "must be a non-empty string")
    data = value.encode("utf-8")
    if len(data) > max_bytes:
        raise InvalidInput("script", f"is {len(data)} bytes; the limit is {max_bytes}")
    if b"\x00" in data:
        raise InvalidInput("script", "must not contain NUL bytes")
    return data


def flag(value: Any, field: str) -> bool:
    """An optional true/false field (absent is false)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(field, "must be true or false")
    return value


def idempotency_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not IDEMPOTENCY_KEY.fullmatch(value):
        raise InvalidInput("idempotency_key", "must be 1-128 characters of A-Z a-z 0-9 _ . : -")
    return value


def sbatch_flags(options: Any) -> list[str]:
    """Validate submit ``options`` against :data:`SBATCH_OPTIONS` and return sbatch flags."""
    if options is None:
        return []
    if not isinstance(options, Mapping):
        raise InvalidInput("options", "must be an object of sbatch options")
    flags = []
    for name, value in options.items():
        spec = SBATCH_OPTIONS.get(name)
        field = f"options.{name}"
        if spec is None:
            raise InvalidInput(field, f"unknown option; allowed: {', '.join(sorted(SBATCH_OPTIONS))}")
        if value is None:
            continue
        if spec.pattern is None:
            if not isinstance(value, bool):
                raise InvalidInput(field, "must be true or false")
            if value:
                flags.append(spec.flag)
            continue
        text = _option_text(field, value)
        if not re.fullmatch(spec.pattern, text, re.ASCII):
            raise InvalidInput(field, f"invalid value {_preview(text)} (example: {spec.example!r})")
        flags.append(f"{spec.flag}={text}")
    return flags


def _option_text(field: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(field, "must be a string or an integer")
    text = str(value)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput(field, "must not contain control characters such as newlines")
    if text.startswith("-"):
        raise InvalidInput(field, "must not start with '-'")
    return text


def _preview(text: str) -> str:
    return repr(text[:40] + ("…" if len(text) > 40 else ""))
