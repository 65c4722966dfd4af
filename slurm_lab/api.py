"""A small Python API over the kernel's session: ``slurm_lab.jobs()``, ``submit()``, ``cancel()``,
``history()``, ``nodes()``, ``efficiency()``, ``account()``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from . import validation
from .cells.session import get_session
from .frame import history_frame, jobs_frame, records_table
from .models import ActionResult
from .slurm.states import base_state


def jobs(scope: str = "mine", state: str | None = None) -> pd.DataFrame:
    """The queue as a DataFrame (one coalesced squeue per cache window, shared with widgets)."""
    session = get_session()
    wanted = validation.states(state)
    listing = session.call(session.service.jobs(validation.scope(scope)))
    return jobs_frame([j for j in listing if wanted is None or base_state(j.state) in wanted])


def submit(script: str, **options: Any) -> str:
    """Submit a batch script (given to sbatch on stdin) with sbatch options; return the job id."""
    session = get_session()
    data = validation.script(script, session.lab.max_script_bytes)
    flags = validation.sbatch_flags(options)
    result, _ = session.call(session.service.submit(data, flags, None))
    return result.job_id


def cancel(*job_ids: str) -> list[ActionResult]:
    """Cancel jobs (``"12_[3-9]"`` is those pending tasks only); one result per id."""
    session = get_session()
    ids = validation.job_ids([str(j) for j in job_ids])
    return session.call(session.service.act("cancel", ids))


def history(scope: str = "mine", since: str = "now-7days") -> pd.DataFrame:
    """Finished jobs since ``since`` (``now-1days``, ``2026-11-01``), from accounting when the
    cluster has it, with each job's CPU, memory and time efficiency and right-sizing advice
    (``suggest``); ``.attrs["source"]`` and ``.attrs["message"]`` say where they came from."""
    session = get_session()
    found = session.call(session.service.history(validation.scope(scope), validation.since(since)))
    frame = history_frame(found.jobs)
    frame.attrs.update(source=found.source, message=found.message)
    return frame


def nodes() -> pd.DataFrame:
    """Every node: CPUs, memory and GPUs in use and in total, and why it is down or drained."""
    session = get_session()
    return records_table(session.call(session.service.nodes()), "name")


def efficiency(job_id: str) -> dict[str, Any] | None:
    """How much of what it held a finished job used, with right-sizing suggestions (accounting)."""
    session = get_session()
    found = session.call(session.service.efficiency(validation.job_id(str(job_id))))
    return asdict(found) if found is not None else None


def account() -> pd.DataFrame:
    """Every limit set on the user (per account and QOS) with what is used and left, and the
    fairshare of each account; one row per limit."""
    session = get_session()
    info = session.call(session.service.account())
    rows = [
        {"scope": f"account {a.account}", "fairshare": a.fairshare, **asdict(limit)}
        for a in info.associations
        for limit in a.limits
    ] + [
        {"scope": f"qos {q.name}", "fairshare": None, **asdict(limit)} for q in info.qos for limit in q.limits
    ]
    shares = [
        {"scope": f"account {a.account}", "fairshare": a.fairshare} for a in info.associations if not a.limits
    ]
    return pd.DataFrame(rows + shares, columns=["scope", "name", "limit", "used", "left", "fairshare"])
