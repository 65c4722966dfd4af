"""Hosts: where Slurm's programs run and the cluster-side files are (see :class:`Host`)."""

from __future__ import annotations

from .base import Host

#: Short names ``c.SlurmLab.host_class`` accepts.
HOSTS: dict[str, str] = {
    "local": "slurm_lab.hosts.local.LocalHost",
    "ssh": "slurm_lab.hosts.ssh.SSHHost",
}

__all__ = ["HOSTS", "Host"]
