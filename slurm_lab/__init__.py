"""slurm-lab: Slurm in JupyterLab — a REST API and side panel, ``%%slurm`` cells, and widgets."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("slurm-lab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import SlurmLabApp

    return [{"module": "slurm_lab", "app": SlurmLabApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "slurm-lab"}]
