"""Backends: how slurm-lab reaches Slurm (local CLIs, or the CLIs on a login node over SSH)."""

from __future__ import annotations

import importlib

from .base import Action, SlurmBackend
from .local import LocalBackend

BACKENDS: dict[str, str] = {
    "local": "slurm_lab.backends.local:LocalBackend",
    "ssh": "slurm_lab.backends.ssh:SSHBackend",
}


def backend_class(name: str) -> type[SlurmBackend]:
    """Resolve a backend name ("local") or an import path ("pkg.module:Class")."""
    target = BACKENDS.get(name, name)
    module, _, attr = target.partition(":")
    if not attr:
        raise ValueError(f"unknown backend {name!r}; use one of {sorted(BACKENDS)} or 'module:Class'")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, SlurmBackend)):
        raise ValueError(f"{target} is not a SlurmBackend")
    return cls


__all__ = ["BACKENDS", "Action", "LocalBackend", "SlurmBackend", "backend_class"]
