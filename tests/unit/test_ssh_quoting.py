"""The one quoting function for the remote shell."""

from __future__ import annotations

import shlex

from slurm_lab.hosts.ssh import remote_command


def test_remote_command_quotes_every_argument() -> None:
    argv = ["sbatch", "--job-name=a b; rm -rf ~ $(id) `id` 'q' \"d\"", "--parsable"]
    command = remote_command(argv)
    assert shlex.split(command) == argv


def test_remote_command_sets_environment_with_env() -> None:
    command = remote_command(["squeue"], {"SLURM_CONF": "/etc/slurm x/slurm.conf"})
    assert shlex.split(command) == ["env", "SLURM_CONF=/etc/slurm x/slurm.conf", "squeue"]
