"""pandas views of the queue and of run records."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from .models import HistoricJob, Job
from .slurm.parsers import durations_to_seconds

_TIMES = ("submit_time", "start_time", "end_time")


def jobs_frame(jobs: list[Job]) -> pd.DataFrame:
    """One row per job, indexed by job id; times as datetimes, used/limit as Timedeltas."""
    frame = pd.DataFrame([asdict(j) for j in jobs], columns=list(Job.__dataclass_fields__))
    for col in _TIMES:
        frame[col] = pd.to_datetime(frame[col], errors="coerce")
    for col in ("time_used", "time_limit"):
        seconds = [durations_to_seconds(v) for v in frame[col]]
        frame[col] = pd.to_timedelta([s if s is not None else None for s in seconds], unit="s")
    return frame.set_index("job_id")


def records_table(records: list[Any], index: str) -> pd.DataFrame:
    """Any list of records (nodes, finished jobs) as a DataFrame indexed by ``index``."""
    rows = [asdict(r) for r in records]
    return pd.DataFrame(rows).set_index(index) if rows else pd.DataFrame()


_EFFICIENCY_COLUMNS = (
    "cpu_efficiency", "memory_efficiency", "time_efficiency", "max_rss_bytes", "cpu_seconds",
)  # fmt: skip


def history_frame(jobs: list[HistoricJob]) -> pd.DataFrame:
    """Finished jobs indexed by job id, each with its efficiency as columns (NaN where accounting
    has none) and its right-sizing advice ("--mem=400M --time=5") in ``suggest``."""
    rows = []
    for job in jobs:
        row = asdict(job)
        eff = row.pop("efficiency") or {}
        row.update({k: eff.get(k) for k in _EFFICIENCY_COLUMNS})
        advice = eff.get("suggestions", {}).items()
        row["suggest"] = " ".join(f"--{k.replace('_', '-')}={v}" for k, v in advice)
        rows.append(row)
    return pd.DataFrame(rows).set_index("job_id") if rows else pd.DataFrame()


_RUN_COLUMNS = ("run_id", "job_id", "state", "created", "backend", "outputs")


def records_frame(records: list[Any]) -> pd.DataFrame:
    """Recorded %%slurm runs, with the notebook they came from and the cell's first line."""
    rows = [
        {
            **{k: getattr(r, k) for k in _RUN_COLUMNS},
            "notebook": r.extra.get("notebook", ""),
            "cell": next((ln.strip() for ln in r.source.splitlines() if ln.strip()), "")[:80],
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=[*_RUN_COLUMNS, "notebook", "cell"])
