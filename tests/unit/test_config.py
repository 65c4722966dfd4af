"""Picking the scheduler and host: short names, import paths, and the former SSHBackend name."""

from __future__ import annotations

import logging

import pytest
from traitlets import TraitError
from traitlets.config import Config

from slurm_lab import config as config_module
from slurm_lab.config import SlurmLab
from slurm_lab.hosts.local import LocalHost
from slurm_lab.hosts.ssh import SSHHost
from slurm_lab.schedulers.cli import CliScheduler


def scheduler_for(**sections: dict[str, object]) -> CliScheduler:
    config = Config()
    for name, values in sections.items():
        for key, value in values.items():
            setattr(getattr(config, name), key, value)
    scheduler = SlurmLab(config=config).make_scheduler()
    assert isinstance(scheduler, CliScheduler)
    return scheduler


def test_backend_names_pick_a_scheduler_over_a_host() -> None:
    local = scheduler_for()
    assert isinstance(local.host, LocalHost) and local.backend == "local"
    ssh = scheduler_for(SlurmLab={"backend": "ssh"}, SSHHost={"host": "login", "port": 2222})
    assert isinstance(ssh.host, SSHHost) and ssh.backend == "ssh"
    assert (ssh.host.host, ssh.host.port) == ("login", 2222)


def test_type_traits_take_short_names_and_import_paths() -> None:
    lab = SlurmLab()
    lab.host_class = "ssh"
    assert lab.host_class is SSHHost
    lab.host_class = "slurm_lab.hosts.local.LocalHost"
    assert lab.host_class is LocalHost
    with pytest.raises(TraitError):
        lab.scheduler_class = "slurm_lab.hosts.local.LocalHost"  # not a Scheduler
    with pytest.raises(ValueError, match=r"unknown c\.SlurmLab\.backend 'nfs'"):
        SlurmLab(config=Config({"SlurmLab": {"backend": "nfs"}})).make_scheduler()


def test_former_ssh_backend_settings_still_work_and_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    config_module._warned_renamed = False
    with caplog.at_level(logging.WARNING, "slurm_lab.config"):
        old = scheduler_for(SlurmLab={"backend": "ssh"}, SSHBackend={"host": "old-login", "username": "al"})
        scheduler_for(SlurmLab={"backend": "ssh"}, SSHBackend={"host": "old-login"})
    assert isinstance(old.host, SSHHost)
    assert (old.host.host, old.host.username) == ("old-login", "al")
    assert [r.getMessage() for r in caplog.records].count(
        "slurm-lab: c.SSHBackend.* is now c.SSHHost.*; the old name still works"
    ) == 1
    # The new name wins where both are set.
    both = scheduler_for(SlurmLab={"backend": "ssh"}, SSHBackend={"host": "old"}, SSHHost={"host": "new"})
    assert isinstance(both.host, SSHHost) and both.host.host == "new"


def test_local_host_settings_fall_back_to_the_former_slurm_lab_names() -> None:
    host = scheduler_for(SlurmLab={"slurm_bin_dir": "/opt/slurm/bin"}).host
    assert isinstance(host, LocalHost) and host.slurm_bin_dir == "/opt/slurm/bin"
    host = scheduler_for(SlurmLab={"slurm_bin_dir": "/a"}, LocalHost={"slurm_bin_dir": "/b"}).host
    assert isinstance(host, LocalHost) and host.slurm_bin_dir == "/b"
