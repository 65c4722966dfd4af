"""The dev cluster's site shape, on a cluster of its own (own folder, own ports; stopped at the end):
four nodes, three partitions, fake GPUs, accounting (sacct, sacctmgr, a QOS limit hit for real),
a node failure and its return, and the quick mode without accounting."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from slurm_lab.devcluster import DevCluster, accounting
from slurm_lab.devcluster.config import (
    ClusterSpec,
    Layout,
    Ports,
    render_gres_conf,
    render_slurm_conf,
    render_slurmdbd_conf,
)
from tests.helpers import SERVER_USER, slurm_as, user_argv, wait_for
from tests.own_cluster import own_cluster

USER = SERVER_USER  # slab-alice in root mode, else whoever runs the tests
BURN_SECONDS = 6  # longer than JobAcctGatherFrequency=5, so MaxRSS is sampled


@pytest.fixture(scope="module")
def site() -> Iterator[DevCluster]:
    """Not the shared dev cluster: this module starts, breaks and stops its own."""
    with own_cluster("devcluster-site", 16817, accounting=True) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def burner(site: DevCluster) -> str:
    """A job that burns CPU and holds 150 MB on c1 (not the node the failure test stops); submitted
    early so it is finished by the time sacct is asked."""
    code = f"import time; b = bytearray(150 << 20); t = time.time()\nwhile time.time() - t < {BURN_SECONDS}: pass"
    script = f"#!/bin/sh\nexec python3 -c '{code}'\n"
    return run(
        site, "sbatch", "--parsable", "-w", "c1", "-o", "/dev/null", "-J", "burner", stdin=script
    ).strip()


def run(site: DevCluster, *argv: str, stdin: str | None = None) -> str:
    """A Slurm CLI as the test user (jobs start in /tmp); raises on failure."""
    full = [argv[0], "--chdir=/tmp", *argv[1:]] if argv[0] in ("sbatch", "srun") else list(argv)
    return slurm_as(site, USER, *full, stdin=stdin)


def node_states(site: DevCluster) -> dict[str, tuple[str, str]]:
    return {s.name: (s.state, s.reason) for s in site.node_states() or []}


def test_the_conf_files_have_the_site_shape() -> None:
    """No cluster needed: what ``up`` writes for 4 nodes with accounting, from one port base."""
    spec = ClusterSpec(Layout(Path("/c")), "host", "slurm", "root", Ports(16817), nodes=4, accounting=True)
    conf = render_slurm_conf(spec).splitlines()
    first_node = next(i for i, line in enumerate(conf) if line.startswith("NodeName="))
    assert conf.index("GresTypes=gpu") < first_node  # slurmctld ignores Gres= otherwise
    assert conf[first_node].startswith("NodeName=c1 NodeHostname=host NodeAddr=127.0.0.1 Port=16828 CPUs=2")
    assert conf[first_node + 3].endswith("Gres=gpu:2 State=UNKNOWN")
    assert {
        "AccountingStoragePort=16819",
        "SlurmdSpoolDir=/c/state/d-%n",
        "JobCompType=jobcomp/filetxt",
    } <= set(conf)
    assert render_gres_conf(spec).splitlines() == [
        "NodeName=c3 Name=gpu File=/dev/null", "NodeName=c3 Name=gpu File=/dev/zero",
        "NodeName=c4 Name=gpu File=/dev/null", "NodeName=c4 Name=gpu File=/dev/zero",
    ]  # fmt: skip
    dbd = render_slurmdbd_conf(spec, "pw").splitlines()
    assert {"DbdPort=16819", "StorageHost=127.0.0.1", "StoragePort=16821", "StoragePass=pw"} <= set(dbd)
    quick = render_slurm_conf(
        ClusterSpec(Layout(Path("/c")), "h", "s", "r", Ports(6817), nodes=1, accounting=False)
    )
    assert "AccountingStorageType=accounting_storage/none" in quick and "PartitionName=gpu Nodes=c1 " in quick


def test_registration_adds_only_what_is_missing() -> None:
    people = accounting.members("root", True, ("slab-alice", "slab-bob"), "slab-rest")
    first = accounting.registration("lab", accounting.Registered(), people)
    assert first[:3] == [
        ["add", "cluster", "lab"],
        ["add", "account", "physics,biology", "Cluster=lab", "Description=dev", "Organization=lab"],
        ["add", "qos", "limited", "MaxSubmitJobsPerUser=3", "GrpTRESMins=cpu=600"],
    ]
    assert [
        "add",
        "user",
        "slab-bob",
        "Account=biology,physics",
        "DefaultAccount=biology",
        "Cluster=lab",
    ] in first
    everything = accounting.Registered.parse(
        "lab\n",
        "normal\nlimited\n",
        "lab|physics||normal\nlab|biology||normal\n"
        + "".join(
            f"lab|{a}|{p.user}|{'limited,normal' if p.limited_qos else 'normal'}\n"
            for p in people
            for a in p.accounts
        ),
    )
    assert accounting.registration("lab", everything, people) == []


def test_four_idle_nodes_and_three_partitions(site: DevCluster, burner: str) -> None:
    states = node_states(site)
    assert sorted(states) == ["c1", "c2", "c3", "c4"]
    assert all(state in ("idle", "mix", "alloc") for state, _ in states.values()), states
    lines = run(site, "sinfo", "-h", "-o", "%P|%l|%N|%D").split()
    assert set(lines) == {"debug*|1:00:00|c[1-4]|4", "long|7-00:00:00|c[1-4]|4", "gpu|1-00:00:00|c[3-4]|2"}


def test_a_gpu_job_sees_two_gpus(site: DevCluster) -> None:
    out = run(
        site,
        "srun",
        "-p",
        "gpu",
        "--gres=gpu:2",
        "-t",
        "1",
        "printenv",
        "SLURMD_NODENAME",
        "CUDA_VISIBLE_DEVICES",
    )
    node, gpus = out.split()
    assert node in ("c3", "c4") and gpus == "0,1"


def test_sacctmgr_lists_the_accounts_and_the_limited_qos(site: DevCluster) -> None:
    assocs = run(site, "sacctmgr", "-n", "-P", "show", "assoc", f"user={USER}", "format=account,qos")
    rows = dict(line.split("|") for line in assocs.split())
    assert set(rows) == {"physics", "biology"}
    assert all(set(qos.split(",")) == {"normal", "limited"} for qos in rows.values())
    qos = run(
        site, "sacctmgr", "-n", "-P", "show", "qos", "limited", "format=name,maxsubmitjobsperuser,grptresmins"
    )
    assert qos.split() == ["limited|3|cpu=600"]
    default = run(site, "sacctmgr", "-n", "-P", "show", "user", USER, "format=defaultaccount")
    assert default.strip() == "physics"


def test_the_qos_submit_limit_refuses_the_fourth_job(site: DevCluster) -> None:
    run(
        site, "scancel", f"--user={USER}", "--qos=limited"
    )  # left by an interrupted run: they survive restarts
    held = []
    try:
        for _ in range(3):
            held.append(
                run(site, "sbatch", "--parsable", "--qos=limited", "--hold", "--wrap", "true").strip()
            )
        refused = submit_as(site, "sbatch", "--qos=limited", "--hold", "--wrap", "true")
        assert refused.returncode == 1, refused.stdout
        assert "sbatch: error: QOSMaxSubmitJobPerUserLimit" in refused.stderr
        assert "Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)" in (
            refused.stderr
        )
        # Another QOS of the same user is not limited.
        held.append(run(site, "sbatch", "--parsable", "--hold", "--wrap", "true").strip())
    finally:
        if held:
            run(site, "scancel", *held)


def test_a_stopped_slurmd_makes_its_node_down_and_node_up_brings_it_back(site: DevCluster) -> None:
    site.node_down("c2")
    try:

        def down() -> tuple[str, str] | None:
            state = node_states(site)["c2"]
            return state if state[0].startswith("down") else None

        # Two failed pings (slurmctld retries each connection for MessageTimeout, 10 s): about 25 s.
        assert wait_for(down, timeout=60, interval=0.5, what="c2 to be set DOWN") == (
            "down*",
            "Not responding",
        )
    finally:
        site.node_up("c2")
    assert node_states(site)["c2"][0] == "idle"


def test_node_down_with_a_reason_is_at_once_and_visible(site: DevCluster) -> None:
    site.node_down("c2", reason="disk on fire")
    try:
        assert node_states(site)["c2"] == ("down", "disk on fire")
        status = devcluster_cli(site, "status")
        assert status.returncode == 1  # a node is not ready
        assert "slurmd c2    stopped" in status.stdout and "node c2      down  disk on fire" in status.stdout
        for daemon in ("munged", "mariadb", "slurmdbd", "slurmctld", "slurmd c1", "slurmd c4"):
            assert any(line.startswith(daemon) and "running" in line for line in status.stdout.splitlines())
    finally:
        site.node_up("c2")
    assert node_states(site)["c2"] == ("idle", "none")


def test_sacct_reports_cpu_time_and_memory_of_a_finished_job(site: DevCluster, burner: str) -> None:
    fields = "JobID,State,TotalCPU,MaxRSS,Account,QOS,NodeList"

    def batch_step() -> list[str] | None:
        out = run(site, "sacct", "-n", "-P", "-j", burner, "-o", fields)
        rows = {line.split("|")[0]: line.split("|") for line in out.splitlines()}
        row = rows.get(f"{burner}.batch")
        return row if row and row[1] == "COMPLETED" and row[3] else None

    step = wait_for(
        batch_step, timeout=BURN_SECONDS + 30, interval=0.5, what="sacct to show the finished job"
    )
    minutes, _, seconds = step[2].rpartition(":")
    assert float(seconds) + 60 * int(minutes or 0) >= 1, step  # TotalCPU, e.g. 00:05.912
    assert step[3].endswith("K") and int(step[3][:-1]) > 100_000, step  # MaxRSS, e.g. 163296K
    job = run(site, "sacct", "-n", "-P", "-X", "-j", burner, "-o", fields).split("|")
    assert (job[1], job[4], job[5], job[6].strip()) == ("COMPLETED", "physics", "normal", "c1")


def test_accounting_off_is_the_quick_mode(site: DevCluster, burner: str) -> None:
    site.up(timeout=120, accounting=False)
    try:
        assert "AccountingStorageType=accounting_storage/none" in site.layout.conf.read_text()
        assert {d.kind for d in site.daemon_status() if d.running} >= {"munged", "slurmctld", "slurmd"}
        assert not any(d.kind in ("mariadb", "slurmdbd") for d in site.daemon_status())
        refused = submit_as(site, "sacct", "-n", "-j", burner)
        assert refused.returncode == 1 and "Slurm accounting storage is disabled" in refused.stderr
        assert burner in run(site, "sacct", "-c", "-n", "-j", burner).split()  # the job-completion log
    finally:
        site.up(timeout=120, accounting=True)  # the folder keeps the choice: leave the default one


def submit_as(site: DevCluster, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a Slurm CLI as the test user and return the completed process (it may fail)."""
    full = [argv[0], "--chdir=/tmp", *argv[1:]] if argv[0] == "sbatch" else list(argv)
    return subprocess.run(user_argv(USER, full, site.env), capture_output=True, text=True, timeout=60)


def devcluster_cli(site: DevCluster, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLURM_LAB_DEVCLUSTER_DIR": str(site.layout.root)}
    return subprocess.run(
        [sys.executable, "-m", "slurm_lab.devcluster", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
