"""Pure description of a dev cluster: its folder layout, ports, and config files (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Node names are c1..cN; each runs its own slurmd (``slurmd -N cK``) on this one machine.
MAX_NODES = 64
DEFAULT_NODES = 4
#: What each node declares (the nodes share the machine's real cores; config_overrides lets Slurm
#: believe these numbers on smaller machines too). Fake GPUs per GPU node (gres.conf: /dev/null, /dev/zero).
NODE_CPUS = 2
NODE_MEMORY_MB = 2000
GPUS_PER_NODE = 2
GPU_DEVICES = ("/dev/null", "/dev/zero")
#: Partitions: name -> MaxTime. ``debug`` (default) and ``long`` hold every node, ``gpu`` the GPU nodes.
DEBUG_MAX_TIME = "1:00:00"
LONG_MAX_TIME = "7-00:00:00"
GPU_MAX_TIME = "1-00:00:00"
#: Seconds without an answer before slurmctld sets a node DOWN ("Not responding"); low so tests are quick.
SLURMD_TIMEOUT = 10
#: Accounting: the database slurmdbd keeps, the accounts and QOS ``up`` registers.
DB_NAME = "slurm_acct_db"
DB_USER = "slurm"
ACCOUNTS = ("physics", "biology")
LIMITED_QOS = "limited"
LIMITED_QOS_LIMITS = ("MaxSubmitJobsPerUser=3", "GrpTRESMins=cpu=600")
#: Job records slurmctld keeps at once (MaxJobCount; finished ones count until MinJobAge), unless
#: ``up --max-jobs`` says otherwise; and the largest array (MaxArraySize: task ids 0..10000).
DEFAULT_MAX_JOBS = 100_000
MAX_ARRAY_SIZE = 10_001


@dataclass(frozen=True)
class Ports:
    """Every TCP port of one dev cluster, from one base (``SLURM_LAB_DEVCLUSTER_PORT_BASE``).

    base: slurmctld, +1: SlurmdPort (unused: each node has its own), +2: slurmdbd, +3: slurmrestd,
    +4: MariaDB, +10+K: node cK's slurmd.
    """

    base: int

    @property
    def ctld(self) -> int:
        return self.base

    @property
    def slurmd(self) -> int:
        return self.base + 1

    @property
    def dbd(self) -> int:
        return self.base + 2

    @property
    def restd(self) -> int:
        return self.base + 3

    @property
    def mariadb(self) -> int:
        return self.base + 4

    def node(self, index: int) -> int:
        """Node ``c<index>``'s slurmd port (index from 1)."""
        return self.base + 10 + index


@dataclass(frozen=True)
class Layout:
    """Every path the dev cluster owns lives under one folder, ``root``."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def gres_conf(self) -> Path:
        """Read by slurmd and slurmctld from slurm.conf's folder."""
        return self.conf.parent / "gres.conf"

    @property
    def slurmdbd_conf(self) -> Path:
        """Read by slurmdbd from slurm.conf's folder (``SLURM_CONF``); mode 0600, owned by SlurmUser."""
        return self.conf.parent / "slurmdbd.conf"

    @property
    def settings(self) -> Path:
        """The shape asked for (``--nodes``, ``--accounting``, the port base), kept for later ``up``s."""
        return self.conf.parent / "devcluster.json"

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

    def node_spool(self, node: str) -> Path:
        """Node ``node``'s SlurmdSpoolDir (``state/d-%n``)."""
        return self.root / "state" / f"d-{node}"

    @property
    def db_dir(self) -> Path:
        """MariaDB's folder (owned by its user): data, socket, pid file."""
        return self.root / "mysql"

    @property
    def db_data(self) -> Path:
        return self.db_dir / "data"

    @property
    def db_socket(self) -> Path:
        return self.db_dir / "mariadbd.sock"

    @property
    def db_password(self) -> Path:
        """slurmdbd's MariaDB password (random, mode 0600, owned by who runs ``up``)."""
        return self.db_dir.parent / "etc" / "storage.pass"

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
        """Where we record ``daemon``'s PID (``slurmd:c1`` -> ``slurmd-c1.devcluster.pid``)."""
        return self.run_dir / f"{daemon.replace(':', '-')}.devcluster.pid"

    def logfile(self, daemon: str) -> Path:
        return self.log_dir / f"{daemon.replace(':', '-')}.log"


@dataclass(frozen=True)
class ClusterSpec:
    """What the cluster looks like: who runs the daemons, ports, nodes, and whether accounting is on."""

    layout: Layout
    hostname: str
    slurm_user: str
    slurmd_user: str
    ports: Ports
    nodes: int = DEFAULT_NODES
    #: slurmdbd + MariaDB; off: today's quick mode (no accounting storage, history from the jobcomp file).
    accounting: bool = True
    #: Accept JWTs (slurmrestd, ``scontrol token``) besides munge; None leaves JWT off.
    jwt_key: Path | None = None
    cluster_name: str = "devcluster"
    #: MaxJobCount (the benchmarks' cluster raises it for a 100,000-job queue).
    max_jobs: int = DEFAULT_MAX_JOBS

    @property
    def node_names(self) -> list[str]:
        return node_names(self.nodes)

    @property
    def gpu_nodes(self) -> list[str]:
        """The last node (the last two from four nodes up) has fake GPUs."""
        names = self.node_names
        return names[-2:] if len(names) >= 4 else names[-1:]


def node_names(count: int) -> list[str]:
    return [f"c{i}" for i in range(1, count + 1)]


def hostlist(names: list[str]) -> str:
    """``c[1-4]`` for consecutive cK names, else comma-separated."""
    numbers = [int(n[1:]) for n in names]
    if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"c[{numbers[0]}-{numbers[-1]}]"
    return ",".join(names)


def render_slurm_conf(spec: ClusterSpec) -> str:
    """Return the slurm.conf text for ``spec``: nodes c1..cN on this host, partitions ``debug`` (default,
    1 hour), ``long`` (7 days) and ``gpu`` (the GPU nodes); with accounting, slurmdbd and enforced limits."""
    lay = spec.layout
    every = hostlist(spec.node_names)
    if spec.accounting:
        accounting = [
            "AccountingStorageType=accounting_storage/slurmdbd",
            f"AccountingStorageHost={spec.hostname}",
            f"AccountingStoragePort={spec.ports.dbd}",
            # The munge socket for slurmdbd connections: AuthInfo's is not used for them.
            f"AccountingStoragePass={lay.munge_socket}",
            # Users need an association to submit; QOS and association limits are real.
            "AccountingStorageEnforce=associations,limits,qos",
            "AccountingStorageTRES=gres/gpu",
            # sacct's TotalCPU, MaxRSS, ... sampled every 5 s.
            "JobAcctGatherType=jobacct_gather/linux",
            "JobAcctGatherFrequency=5",
            "PriorityType=priority/multifactor",
            "PriorityWeightAge=1000",
            "PriorityWeightFairshare=10000",
            "PriorityWeightJobSize=1000",
            "PriorityWeightPartition=1000",
            "PriorityWeightQOS=1000",
            "ScronParameters=enable",
        ]
    else:
        accounting = [
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
        ]
    nodes = []
    for index, name in enumerate(spec.node_names, start=1):
        gres = f" Gres=gpu:{GPUS_PER_NODE}" if name in spec.gpu_nodes else ""
        nodes.append(
            f"NodeName={name} NodeHostname={spec.hostname} NodeAddr=127.0.0.1 Port={spec.ports.node(index)} "
            f"CPUs={NODE_CPUS} RealMemory={NODE_MEMORY_MB}{gres} State=UNKNOWN"
        )
    lines = [
        f"ClusterName={spec.cluster_name}",
        f"SlurmctldHost={spec.hostname}",
        f"SlurmctldPort={spec.ports.ctld}",
        f"SlurmdPort={spec.ports.slurmd}",
        f"SlurmUser={spec.slurm_user}",
        f"SlurmdUser={spec.slurmd_user}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={lay.munge_socket}",
        *(["AuthAltTypes=auth/jwt", f"AuthAltParameters=jwt_key={spec.jwt_key}"] if spec.jwt_key else []),
        f"StateSaveLocation={lay.ctld_state}",
        # One slurmd per node on this host: %n (the node name) keeps their files apart.
        f"SlurmdSpoolDir={lay.node_spool('%n')}",
        f"SlurmctldPidFile={lay.run_dir / 'slurmctld.pid'}",
        f"SlurmdPidFile={lay.run_dir / 'slurmd-%n.pid'}",
        f"SlurmctldLogFile={lay.logfile('slurmctld')}",
        f"SlurmdLogFile={lay.logfile('slurmd-%n')}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        # Lets several jobs share a node.
        "DefMemPerCPU=512",
        # Believe the declared CPUs/memory, whatever this machine has (the nodes share it).
        "SlurmdParameters=config_overrides",
        # Before the NodeName lines.
        "GresTypes=gpu",
        *accounting,
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={lay.jobcomp}",
        "MpiDefault=none",
        "MailProg=/bin/true",
        "SchedulerType=sched/backfill",
        # Start jobs within about a second instead of the default ~3 s cadence.
        "SchedulerParameters=batch_sched_delay=0",
        # Reject limit violations at submit time, with Slurm's own reason, as most sites do.
        "EnforcePartLimits=ALL",
        # A node that was down (killed slurmd, scontrol ... state=down) is back when its slurmd registers.
        "ReturnToService=2",
        f"SlurmdTimeout={SLURMD_TIMEOUT}",
        "MinJobAge=300",
        f"MaxArraySize={MAX_ARRAY_SIZE}",
        f"MaxJobCount={spec.max_jobs}",
        *nodes,
        f"PartitionName=debug Nodes={every} Default=YES MaxTime={DEBUG_MAX_TIME} State=UP",
        f"PartitionName=long Nodes={every} Default=NO MaxTime={LONG_MAX_TIME} State=UP",
        f"PartitionName=gpu Nodes={hostlist(spec.gpu_nodes)} Default=NO MaxTime={GPU_MAX_TIME} State=UP",
    ]
    return "\n".join(lines) + "\n"


def render_gres_conf(spec: ClusterSpec) -> str:
    """Fake GPUs: each GPU node's GPUs are harmless device files (Slurm only needs them to exist)."""
    lines = [
        f"NodeName={node} Name=gpu File={device}"
        for node in spec.gpu_nodes
        for device in GPU_DEVICES[:GPUS_PER_NODE]
    ]
    return "\n".join(lines) + "\n"


def render_slurmdbd_conf(spec: ClusterSpec, password: str) -> str:
    """slurmdbd.conf: slurmdbd on ``ports.dbd``, storing in the private MariaDB over TCP on 127.0.0.1."""
    lay = spec.layout
    return "\n".join(
        [
            "AuthType=auth/munge",
            f"AuthInfo=socket={lay.munge_socket}",
            *(["AuthAltTypes=auth/jwt", f"AuthAltParameters=jwt_key={spec.jwt_key}"] if spec.jwt_key else []),
            f"DbdHost={spec.hostname}",
            f"DbdPort={spec.ports.dbd}",
            f"SlurmUser={spec.slurm_user}",
            f"LogFile={lay.logfile('slurmdbd')}",
            f"PidFile={lay.run_dir / 'slurmdbd.pid'}",
            "StorageType=accounting_storage/mysql",
            "StorageHost=127.0.0.1",
            f"StoragePort={spec.ports.mariadb}",
            f"StorageUser={DB_USER}",
            f"StoragePass={password}",
            f"StorageLoc={DB_NAME}",
            "",
        ]
    )
