"""Schedulers: how slurm-lab speaks to Slurm (its CLIs on a host, or slurmrestd)."""

from __future__ import annotations

from .base import Action, Scheduler

#: Short names ``c.SlurmLab.scheduler_class`` accepts.
SCHEDULERS: dict[str, str] = {
    "cli": "slurm_lab.schedulers.cli.CliScheduler",
    "slurmrestd": "slurm_lab.schedulers.slurmrestd.SlurmrestdScheduler",
}

__all__ = ["SCHEDULERS", "Action", "Scheduler"]
