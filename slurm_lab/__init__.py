"""slurm-lab: Slurm in JupyterLab — a REST API and side panel, ``%%slurm`` cells, and widgets."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import SlurmLabApp

    return [{"module": "slurm_lab", "app": SlurmLabApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "slurm-lab"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext slurm_lab``: registers the ``%%slurm`` and ``%slurm`` magics."""
    from .cells.magics import SlurmMagics

    ipython.register_magics(SlurmMagics)


def __getattr__(name: str) -> Any:
    # The Python API (slurm_lab.jobs(), submit(), cancel()) loads lazily: the server never needs it.
    if name in ("jobs", "submit", "cancel", "history", "nodes", "efficiency", "account"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
