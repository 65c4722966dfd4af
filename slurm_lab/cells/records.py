"""Every cell run is recorded on the kernel's machine, so a restarted kernel can re-attach."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir

from ..atomic import write_atomically


@dataclass
class RunRecord:
    run_id: str
    job_id: str
    created: str
    source: str
    options: dict[str, Any]
    inputs: list[str]
    outputs: list[str]
    run_dir: str  # on the cluster side
    backend: str
    tasks: list[str] | None = None  # array task ids, None for a plain job
    state: str = "SUBMITTED"
    extra: dict[str, Any] = field(default_factory=dict)


class RunStore:
    """One JSON file per run under ``<jupyter data dir>/slurm_lab/runs`` (or ``folder``)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(jupyter_data_dir()) / "slurm_lab" / "runs"

    def save(self, record: RunRecord) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(self.folder / f"{record.run_id}.json", json.dumps(asdict(record), indent=1).encode())

    def all(self) -> list[RunRecord]:
        """Every recorded run, newest first."""
        records = []
        for path in sorted(self.folder.glob("*.json"), reverse=True):
            try:
                records.append(RunRecord(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue
        return records

    def by_job(self, job_id: str) -> RunRecord | None:
        return next((r for r in self.all() if r.job_id == job_id), None)
