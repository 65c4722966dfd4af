"""Which of the user's association and QOS limits a request would run into. Pure.

``sbatch --test-only`` refuses a request over a submit limit, but says "will start" for one that
would then pend forever on a usage limit (GrpTRESMins) or wait on a running-jobs limit; these
warnings say so before the job exists, in the words of :mod:`reasons`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..models import AccountInfo, Limit
from .parsers import durations_to_seconds


def _flag(flags: Sequence[str], name: str) -> str | None:
    return next((f.split("=", 1)[1] for f in flags if f.startswith(f"{name}=")), None)


def array_tasks(spec: str | None) -> int:
    """How many tasks ``--array`` asks for ("0-9%2" -> 10, "1,3,5-7" -> 5, "1-9:2" -> 5)."""
    if not spec:
        return 1
    total = 0
    for part in spec.split("%")[0].split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if m:
            first, last, step = int(m[1]), int(m[2] or m[1]), int(m[3] or 1)
            total += max(0, (last - first) // max(step, 1) + 1)
    return max(total, 1)


def limit_warnings(
    account: AccountInfo, flags: Sequence[str], processors: int | None, default_minutes: float | None
) -> list[str]:
    """What the request (validated sbatch ``flags``, ``processors`` from test-only, the
    partition's default time) would hit: the QOS it names and the account it charges."""
    tasks = array_tasks(_flag(flags, "--array"))
    seconds = durations_to_seconds(_flag(flags, "--time"))
    minutes = seconds / 60 if seconds is not None else default_minutes
    qos = _flag(flags, "--qos")
    wanted = _flag(flags, "--account")
    owners: list[tuple[str, Iterable[Limit]]] = [
        (f"QOS {q.name}", q.limits) for q in account.qos if q.name == qos
    ]
    owners += [
        (f"account {a.account}", a.limits)
        for a in account.associations
        if (a.account == wanted if wanted else a.is_default)
    ]
    warnings = []
    for owner, limits in owners:
        for limit in limits:
            warning = _check(limit, owner, tasks, processors, minutes)
            if warning:
                warnings.append(warning)
    return warnings


def _check(limit: Limit, owner: str, tasks: int, cpus: int | None, minutes: float | None) -> str | None:
    name = limit.name
    left = int(limit.left)
    if "SubmitJobs" in name and left < tasks:
        return f"{owner} allows {int(limit.limit)} submitted jobs ({name}); {left} left for {tasks}"
    if re.match(r"(Grp|Max)Jobs", name) and left < 1:
        return f"{owner} allows {int(limit.limit)} running jobs ({name}): this one waits until one ends"
    if name.endswith("TRESMins cpu") and cpus and minutes:
        need = cpus * minutes * (tasks if name.startswith("Grp") else 1)
        if need > limit.left:
            return (
                f"needs {need:,.0f} CPU-minutes and {owner} has {limit.left:,.0f} left ({name}): "
                "it would pend until usage decays or the limit is raised; ask for less time or fewer CPUs"
            )
    if "Wall" in name and minutes and minutes > limit.limit:
        return f"asks for {minutes:,.0f} minutes and {owner} allows {int(limit.limit)} ({name})"
    return None
