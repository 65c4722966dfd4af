"""``SlurmLab``: the one configurable an admin sets, read by the server (and later by kernels)."""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

from jupyter_core.paths import jupyter_config_path
from traitlets import Bool, Dict, Float, Int, Type, Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader
from traitlets.utils.importstring import import_item

from .hosts import HOSTS, Host
from .schedulers import SCHEDULERS, Scheduler

#: ``c.SlurmLab.backend`` -> (scheduler, host) short names.
BACKENDS: dict[str, tuple[str, str | None]] = {
    "local": ("cli", "local"),
    "ssh": ("cli", "ssh"),
    "slurmrestd": ("slurmrestd", None),
}
_warned_renamed = False
log = logging.getLogger("slurm_lab.config")


class NamedType(Type):  # type: ignore[type-arg]
    """A ``Type`` trait that also accepts short names ("ssh") for the classes it knows."""

    def __init__(self, names: dict[str, str], **kwargs: Any) -> None:
        self.names = names
        super().__init__(**kwargs)

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, str):
            value = self.names.get(value, value)
        return super().validate(obj, value)

    @staticmethod
    def resolve(names: dict[str, str], name: str, base: type) -> Any:
        """The class a short name stands for."""
        cls = import_item(names[name])
        assert issubclass(cls, base)
        return cls


class SlurmLab(Configurable):
    """Settings of slurm-lab, e.g. in ``jupyter_server_config.py``: ``c.SlurmLab.cache_ttl = 5``.

    The server and every kernel (``%load_ext slurm_lab``) read the same files: see :func:`load_config`.
    """

    backend = Unicode(
        "local",
        config=True,
        help="""How slurm-lab reaches Slurm, in one word: "local" runs the Slurm CLIs on this
        machine as the server's user; "ssh" runs them on a login node (see SSHHost);
        "slurmrestd" speaks to Slurm's REST API (see SlurmrestdScheduler). It picks
        scheduler_class and host_class, which, when set, win. Default: "local".
        Example: c.SlurmLab.backend = "ssh" """,
    )
    scheduler_class = NamedType(
        SCHEDULERS,
        default_value=None,
        allow_none=True,
        klass=Scheduler,
        config=True,
        help="""The Scheduler that speaks to Slurm: "cli" (its command-line tools, run on the
        host) or "slurmrestd", or an import path of your own subclass. Default: None (the
        backend's: "slurmrestd" for backend "slurmrestd", else "cli").
        Example: c.SlurmLab.scheduler_class = "mysite.slurm.AuditedScheduler" """,
    )
    host_class = NamedType(
        HOSTS,
        default_value=None,
        allow_none=True,
        klass=Host,
        config=True,
        help="""The Host where Slurm's programs run and the cluster-side files are (job output,
        %%slurm runs): "local" or "ssh", or an import path. Default: None (the backend's:
        "ssh" for backend "ssh", "local" for "local", none for "slurmrestd", which then
        answers output reads and %%slurm with 501). Example: c.SlurmLab.host_class = "local" """,
    )
    check_hub_user = Bool(
        True,
        config=True,
        help="""Behind JupyterHub, refuse (403, with a message in the panel) to list "my" jobs,
        submit or act when the hub user ($JUPYTERHUB_USER) is not the account Slurm sees for this
        server, e.g. a container's shared "jovyan". Turn off only where hub names and cluster
        accounts differ on purpose. Default: True. Example: c.SlurmLab.check_hub_user = False""",
    )
    command_timeout = Float(
        30.0,
        config=True,
        help="""Seconds a Slurm command may run before it is killed and the request answered with
        504. Slurm's CLIs retry an unreachable controller for about 10 s, so keep this above 15.
        Default: 30. Example: c.SlurmLab.command_timeout = 60""",
    )
    cache_ttl = Float(
        3.0,
        config=True,
        help="""Seconds one queue listing (one squeue call) is reused for every client and tab
        before Slurm is asked again; a failure is remembered as long. Lower it for fresher data
        at the cost of more RPCs to slurmctld; 0 asks Slurm on every request (concurrent requests
        still share one call). Default: 3. Example: c.SlurmLab.cache_ttl = 10""",
    )
    push_interval = Float(
        10.0,
        config=True,
        help="""Seconds between the queue refreshes the push channel (jobs/events) makes while any
        browser tab or widget listens; each one serves every listener, and a change reaches them
        within one interval. Never below cache_ttl. Default: 10 (the panel's default poll).
        Example: c.SlurmLab.push_interval = 30""",
    )
    site_cache = Unicode(
        "",
        config=True,
        help="""Unix socket of the host's shared queue cache (python -m slurm_lab.site, run by the
        admin as root or SlurmUser), which lists the queue once per window for every user of this
        login node or JupyterHub host, so slurmctld's load does not grow with the number of users.
        The queue then comes from there, each user seeing what their own squeue shows; when the
        socket is absent, refuses, does not answer within 2 s, answers something unreadable or is
        not served by root or SlurmUser, slurm-lab says so once in the log, lists with its own
        squeue and asks the cache again 30 s later. Local backend only (the socket tells the cache
        who is asking); ignored, with a warning, otherwise. Empty: off. Default: "".
        Example: c.SlurmLab.site_cache = "/run/slurm-lab/queue.sock" """,
    )
    slow_cache_ttl = Float(
        60.0,
        config=True,
        help="""Seconds the answers that change slowly are reused for every client: the account
        view (fairshare and limit usage, which Slurm itself recomputes every few minutes) and
        pending jobs' priorities and place in line (sprio; recomputed every PriorityCalcPeriod,
        5 minutes by default). Never shorter than cache_ttl. Default: 60.
        Example: c.SlurmLab.slow_cache_ttl = 300""",
    )
    slurm_bin_dir = Unicode(
        "",
        config=True,
        help="""Folder holding squeue, sbatch, scancel, scontrol, sinfo and sacct. Empty means
        "find them on PATH". Default: "". Example: c.SlurmLab.slurm_bin_dir = "/opt/slurm/bin" """,
    )
    slurm_conf = Unicode(
        "",
        config=True,
        help="""Path of slurm.conf given to the Slurm CLIs as SLURM_CONF. Empty means the CLIs'
        own default (or an inherited SLURM_CONF). Default: "".
        Example: c.SlurmLab.slurm_conf = "/etc/slurm/slurm.conf" """,
    )
    max_output_bytes = Int(
        64 << 20,
        config=True,
        help="""Largest output, in bytes, accepted from one Slurm command; a larger one fails the
        request (502) instead of exhausting memory. Default: 67108864 (64 MiB).
        Example: c.SlurmLab.max_output_bytes = 256 * 2**20""",
    )
    max_script_bytes = Int(
        1 << 20,
        config=True,
        help="""Largest batch script, in bytes, accepted by POST jobs (larger: 400).
        Default: 1048576 (1 MiB). Example: c.SlurmLab.max_script_bytes = 4 * 2**20""",
    )
    output_chunk_bytes = Int(
        256 << 10,
        config=True,
        help="""Most bytes of a job's stdout/stderr returned by one output request; clients tail
        by asking again from the returned next_offset. Default: 262144 (256 KiB).
        Example: c.SlurmLab.output_chunk_bytes = 1 << 20""",
    )
    retry_after = Int(
        5,
        config=True,
        help="""Seconds sent in Retry-After when Slurm's controller or the backend is unreachable
        (503). Default: 5. Example: c.SlurmLab.retry_after = 15""",
    )
    idempotency_file = Unicode(
        "",
        config=True,
        help="""File that remembers submit idempotency keys across server restarts, so a retried
        submit never makes a second job. Empty means "slurm_lab/idempotency.jsonl" in the Jupyter
        data folder. Default: "". Example: c.SlurmLab.idempotency_file = "/var/lib/jupyter/idem.jsonl" """,
    )
    idempotency_ttl = Float(
        24 * 3600.0,
        config=True,
        help="""Seconds an idempotency key is remembered. Default: 86400 (one day).
        Example: c.SlurmLab.idempotency_ttl = 7 * 86400""",
    )

    scripts_dir = Unicode(
        "",
        config=True,
        help="""Folder on the Jupyter side where the script and options of every job submitted
        through slurm-lab are kept (one private file per job), so "Resubmit" offers the job as it
        was sent. Empty means "slurm_lab/scripts" in the Jupyter data folder; "none" keeps nothing.
        Default: "". Example: c.SlurmLab.scripts_dir = "/home/alice/.slurm-lab/scripts" """,
    )
    scripts_kept = Int(
        2000,
        config=True,
        help="""How many submitted scripts to keep; the oldest go first. Default: 2000.
        Example: c.SlurmLab.scripts_kept = 10000""",
    )

    runs_dir = Unicode(
        "~/.slurm-lab/runs",
        config=True,
        help="""Folder, on the cluster side, where %%slurm keeps each cell run (code, inputs,
        outputs, logs). It must be on storage the compute nodes can read and write (a home or
        shared file system). Over SSH a relative or "~/" path is under the login home.
        Default: "~/.slurm-lab/runs". Example: c.SlurmLab.runs_dir = "/scratch/alice/slurm-lab" """,
    )
    python = Unicode(
        "",
        config=True,
        help="""Python interpreter that runs %%slurm cells on the cluster (it needs cloudpickle and
        the same major.minor version as the kernel). Empty means the kernel's own interpreter with
        the local backend, "python3" over SSH. Overridden per cell by --python.
        Default: "". Example: c.SlurmLab.python = "/opt/conda/envs/analysis/bin/python" """,
    )
    profiles = Dict(
        config=True,
        help="""Named sets of sbatch options for %%slurm --profile NAME (keys as in the REST API's
        submit options). Default: {}. Example: c.SlurmLab.profiles = {"gpu": {"partition": "gpu",
        "gpus": "1", "time": "2:00:00"}, "big": {"mem": "64G", "cpus_per_task": 16}}""",
    )

    def make_scheduler(self) -> Scheduler:
        """Build the configured scheduler over its host."""
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown c.SlurmLab.backend {self.backend!r}; use one of {sorted(BACKENDS)}")
        scheduler_name, host_name = BACKENDS[self.backend]
        host_cls = self.host_class or (NamedType.resolve(HOSTS, host_name, Host) if host_name else None)
        scheduler_cls = self.scheduler_class or NamedType.resolve(SCHEDULERS, scheduler_name, Scheduler)
        host = None
        if host_cls is not None:
            host = host_cls(
                command_timeout=self.command_timeout,
                max_output_bytes=self.max_output_bytes,
                parent=self,
                config=self._host_config(),
            )
        scheduler: Scheduler = scheduler_cls(host, parent=self)
        return scheduler

    def _host_config(self) -> Config:
        """The config with ``c.SSHBackend.*`` (the SSH host's former name) read as ``c.SSHHost.*``."""
        if "SSHBackend" not in self.config:
            return self.config
        global _warned_renamed
        if not _warned_renamed:
            _warned_renamed = True
            log.warning("slurm-lab: c.SSHBackend.* is now c.SSHHost.*; the old name still works")
        config = copy.deepcopy(self.config)
        merged = Config(config.SSHBackend)
        merged.merge(config.get("SSHHost", Config()))
        config.SSHHost = merged
        return config


def load_config() -> Config:
    """The Jupyter server's configuration files (``jupyter_server_config.{json,py}`` on the Jupyter
    config path), so kernels use exactly the backend and profiles the admin set for the server."""
    config = Config()
    for folder in reversed(jupyter_config_path()):  # lowest priority first
        for loader in (JSONFileConfigLoader, PyFileConfigLoader):
            name = "jupyter_server_config." + ("json" if loader is JSONFileConfigLoader else "py")
            if os.path.isfile(os.path.join(folder, name)):
                config.merge(loader(name, path=folder).load_config())
    return config
