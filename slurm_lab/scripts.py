"""Batch scripts kept at submit time, so any job can be resubmitted as it was sent.

One private file per job (``<job id>.json``, mode 0600, in a 0700 folder) holding the script,
the sbatch flags and when it was sent. Server and kernels write here at once without a lock: each
job's file is written whole (see atomic.py) by the one process that submitted it. The oldest files
go when there are more than ``limit``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .atomic import write_atomically

#: Seconds between our clock at submit and Slurm's SubmitTime within which a kept script is the
#: job's (a job id seen again on a rebuilt cluster is another job).
SAME_SUBMIT = 300.0


@dataclass(frozen=True, slots=True)
class KeptScript:
    job_id: str
    script: str
    flags: list[str]
    submitted_at: float

    def matches(self, slurm_submit_time: str | None) -> bool:
        """Whether this is the job Slurm says was submitted at ``slurm_submit_time`` (local ISO
        time, as Slurm prints it); True when Slurm does not say."""
        try:
            when = datetime.fromisoformat(slurm_submit_time or "").timestamp()
        except ValueError:
            return True
        return abs(when - self.submitted_at) <= SAME_SUBMIT


class ScriptStore:
    """Scripts by job id in ``folder``; None keeps nothing."""

    def __init__(self, folder: Path | None, limit: int = 2000) -> None:
        self.folder = folder
        self.limit = limit

    def keep(self, job_id: str, script: bytes, flags: Sequence[str]) -> None:
        """Remember what made ``job_id`` (a failure to write only costs the resubmit its script)."""
        if self.folder is None:
            return
        record = {
            "job_id": job_id,
            "script": script.decode("utf-8", "replace"),
            "flags": list(flags),
            "submitted_at": time.time(),
        }
        path = self._path(job_id)
        if path is None:
            return
        with contextlib.suppress(OSError):
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomically(path, json.dumps(record).encode())
            self._prune()

    def find(self, job_id: str) -> KeptScript | None:
        """The kept script of ``job_id`` (an array task's is its array's), if any."""
        if self.folder is None:
            return None
        path = self._path(job_id.split("_")[0])
        if path is None:
            return None
        try:
            record = json.loads(path.read_bytes())
            return KeptScript(
                str(record["job_id"]),
                str(record["script"]),
                [str(f) for f in record["flags"]],
                float(record["submitted_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _path(self, job_id: str) -> Path | None:
        """The file of a plain numeric job id; None for anything else (no path tricks)."""
        if self.folder is None or not job_id.isdigit():
            return None
        return self.folder / f"{job_id}.json"

    def _prune(self) -> None:
        assert self.folder is not None
        with os.scandir(self.folder) as entries:
            kept = [e for e in entries if e.name.endswith(".json")]
        if len(kept) <= self.limit:
            return
        kept.sort(key=lambda e: e.stat().st_mtime)
        for entry in kept[: len(kept) - self.limit]:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
