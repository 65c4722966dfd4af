"""Pure description of a dev cluster: its folder layout and its slurm.conf (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """Every path the dev cluster owns lives under one folder, ``root``."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def munge_dir(self) -> Path:
        return self.root / "munge"

    @property
    def munge_key(self) -> Path:
        return self.munge_dir / "munge.key"

    @property
    def munge_socket(self) -> Path:
        return self.munge_dir / "munge.socket"

    @property
    def ctld_state(self) -> Path:
        return self.root / "state" / "ctld"

    @property
    def slurmd_spool(self) -> Path:
        return self.root / "state" / "d"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def jobcomp(self) -> Path:
        return self.log_dir / "jobcomp.txt"

    @property
    def jwt_key(self) -> Path:
        """The HS256 key slurmctld signs and checks JWTs with (``AuthAltParameters=jwt_key=``)."""
        return self.root / "etc" / "jwt_hs256.key"

    @property
    def restd_dir(self) -> Path:
        """slurmrestd's own folder (owned by the user it runs as), holding its unix socket."""
        return self.run_dir / "restd"

    @property
    def restd_socket(self) -> Path:
        return self.restd_dir / "slurmrestd.sock"

    def pidfile(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.devcluster.pid"

    def logfile(self, daemon: str) -> Path:
        return self.log_dir / f"{daemon}.log"


@dataclass(frozen=True)
class ClusterSpec:
    """What the cluster looks like: who runs the daemons, ports, and this host's node line."""

    layout: Layout
    hostname: str
    node_line: str  # the first line of ``slurmd -C``
    slurm_user: str
    slurmd_user: str
    ctld_port: int
    slurmd_port: int
    #: Accept JWTs (slurmrestd, ``scontrol token``) besides munge; None leaves JWT off.
    jwt_key: Path | None = None
    cluster_name: str = "devcluster"


def render_slurm_conf(spec: ClusterSpec) -> str:
    """Return the slurm.conf text for ``spec``: two partitions, ``debug`` (default) and ``long``."""
    lay = spec.layout
    lines = [
        f"ClusterName={spec.cluster_name}",
        f"SlurmctldHost={spec.hostname}",
        f"SlurmctldPort={spec.ctld_port}",
        f"SlurmdPort={spec.slurmd_port}",
        f"SlurmUser={spec.slurm_user}",
        f"SlurmdUser={spec.slurmd_user}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={lay.munge_socket}",
        *(["AuthAltTypes=auth/jwt", f"AuthAltParameters=jwt_key={spec.jwt_key}"] if spec.jwt_key else []),
        f"StateSaveLocation={lay.ctld_state}",
        f"SlurmdSpoolDir={lay.slurmd_spool}",
        f"SlurmctldPidFile={lay.run_dir / 'slurmctld.pid'}",
        f"SlurmdPidFile={lay.run_dir / 'slurmd.pid'}",
        f"SlurmctldLogFile={lay.logfile('slurmctld')}",
        f"SlurmdLogFile={lay.logfile('slurmd')}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        # Lets several jobs share the single node.
        "DefMemPerCPU=512",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={lay.jobcomp}",
        "MpiDefault=none",
        "MailProg=/bin/true",
        "SchedulerType=sched/backfill",
        # Start jobs within about a second instead of the default ~3 s cadence.
        "SchedulerParameters=batch_sched_delay=0",
        # Reject limit violations at submit time, with Slurm's own reason, as most sites do.
        "EnforcePartLimits=ALL",
        "ReturnToService=2",
        "MaxArraySize=10001",
        "MaxJobCount=100000",
        f"{spec.node_line} State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        "PartitionName=long Nodes=ALL Default=NO MaxTime=7-00:00:00 State=UP",
    ]
    return "\n".join(lines) + "\n"
