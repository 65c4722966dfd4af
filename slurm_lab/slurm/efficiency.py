"""How much of what a finished job asked for it used, and what to ask for next time. Pure.

Read from ``sacct`` (:data:`argv.EFFICIENCY_FIELDS`): CPU efficiency is TotalCPU / (Elapsed x
CPUs), memory efficiency is the largest step's MaxRSS against the memory allocated, time is
Elapsed against the limit. A suggestion is made only when a job used well under what it held,
with headroom, in the units people type ("--mem=1G", "--time=15").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from ..models import Efficiency
from .argv import EFFICIENCY_FIELDS, FIELD_SEP
from .states import base_state

_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
#: Under this share of what was held, a suggestion is worth making.
WASTEFUL = 0.5
#: Headroom over what was used, so the suggestion does not kill the next run.
HEADROOM = 1.25
#: Run times vary more than memory: more headroom before a job is killed at its limit.
TIME_HEADROOM = 1.5


#: What to ask for after a run Slurm ended at a limit.
_CUT_SHORT = {
    "TIMEOUT": ("ran out of time at its limit: ask for more with --time",),
    "OUT_OF_MEMORY": ("ran out of memory: ask for more with --mem",),
}


def slurm_seconds(text: str) -> float | None:
    """sacct's durations: ``[D-][HH:]MM:SS[.mmm]`` -> seconds."""
    text = text.strip()
    if not text or text in ("INVALID", "UNLIMITED", "Partition_Limit"):
        return None
    days, _, clock = text.rpartition("-")
    parts = [float(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    hours, minutes, seconds = parts[-3:]
    return (int(days) if days else 0) * 86400 + hours * 3600 + minutes * 60 + seconds


def size_bytes(text: str) -> int | None:
    """sacct's sizes (``512M``, ``1.50G``, ``4000K``, a plain number in bytes) -> bytes."""
    m = re.fullmatch(r"([\d.]+)([KMGTP]?)[nc]?", text.strip())
    if m is None:
        return None
    return int(float(m.group(1)) * _UNITS.get(m.group(2), 1))


def _tres(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _human(nbytes: float) -> str:
    """Bytes as --mem wants them, rounded up: 700 MiB -> 700M, 1.2 GiB -> 2G."""
    if nbytes <= 1000 * (1 << 20):
        return f"{max(1, math.ceil(nbytes / (1 << 20) / 100) * 100)}M"
    return f"{math.ceil(nbytes / (1 << 30))}G"


def _gib(nbytes: float) -> str:
    return f"{nbytes / (1 << 30):.1f}".rstrip("0").rstrip(".") + " GB"


def parse_efficiency(text: str, job_id: str) -> Efficiency | None:
    """The efficiency of ``job_id`` from ``sacct --parsable2`` rows of the job and its steps."""
    names = EFFICIENCY_FIELDS.split(",")
    lines = [line.split(FIELD_SEP) for line in text.splitlines() if line.strip()]
    rows = [dict(zip(names, cells, strict=False)) for cells in lines]
    job = next((r for r in rows if r.get("JobID") == job_id), None)
    if job is None:
        return None
    return efficiency_of(job_id, job, [r for r in rows if r.get("JobID", "").startswith(f"{job_id}.")])


def efficiency_of(job_id: str, job: Mapping[str, str], steps: Iterable[Mapping[str, str]]) -> Efficiency:
    """The efficiency of one job from its sacct row and its steps' rows (keyed by sacct's field
    names: State, ElapsedRaw, TotalCPU, AllocCPUS, TimelimitRaw, AllocTRES; MaxRSS per step)."""
    elapsed = int(job.get("ElapsedRaw") or 0)
    ncpus = int(job.get("AllocCPUS") or 0)
    cpu_seconds = slurm_seconds(job.get("TotalCPU", ""))
    rss = [b for r in steps if (b := size_bytes(r.get("MaxRSS", ""))) is not None]
    max_rss = max(rss) if rss else None
    tres = _tres(job.get("AllocTRES", ""))
    requested = size_bytes(tres["mem"]) if "mem" in tres else None
    limit_raw = job.get("TimelimitRaw", "")
    limit = int(limit_raw) * 60 if limit_raw.isdigit() else None
    gpus = int(tres.get("gres/gpu", "0") or 0)
    cpu_eff = cpu_seconds / (elapsed * ncpus) if cpu_seconds is not None and elapsed and ncpus else None
    mem_eff = max_rss / requested if max_rss is not None and requested else None
    time_eff = elapsed / limit if limit else None
    state = base_state(job.get("State", "")) or "UNKNOWN"
    suggestions: dict[str, str] = {}
    notes: list[str] = []
    if mem_eff is not None and requested and max_rss is not None and mem_eff < WASTEFUL:
        suggestions["mem"] = _human(max_rss * HEADROOM)
        notes.append(f"used {_gib(max_rss)} of {_gib(requested)}: --mem={suggestions['mem']}")
    if time_eff is not None and limit and time_eff < WASTEFUL and elapsed > 0:
        minutes = max(5, math.ceil(elapsed * TIME_HEADROOM / 60 / 5) * 5)  # in 5-minute steps
        if minutes * 60 < limit:
            suggestions["time"] = str(minutes)
            notes.append(f"used {math.ceil(elapsed / 60)} of {limit // 60} min: --time={minutes}")
    if cpu_eff is not None and ncpus > 1 and cpu_eff < WASTEFUL:
        want = max(1, math.ceil(ncpus * cpu_eff * HEADROOM))
        if want < ncpus:
            suggestions["cpus_per_task"] = str(want)
            notes.append(f"kept {cpu_eff * ncpus:.1f} of {ncpus} CPUs busy: --cpus-per-task={want}")
    if state != "COMPLETED":
        # A run cut short shows what it used until then, not what the work needs.
        suggestions, notes = {}, list(_CUT_SHORT.get(state, ()))
    return Efficiency(
        job_id, state, elapsed, ncpus, cpu_seconds, cpu_eff, requested, max_rss, mem_eff, limit,
        time_eff, gpus, suggestions, notes,
    )  # fmt: skip
