"""SSH backend: a command on the persistent connection vs a one-shot ``ssh host squeue``,
and 10 concurrent API requests through the SSH host.

    .venv/bin/python -m benchmarks.bench_ssh [--rounds 30]

Needs root mode (the dev sshd logs in as slab-alice) and the dev cluster (./dev setup).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time

import httpx

from slurm_lab.devcluster import DevCluster
from slurm_lab.devcluster.sshd import DevSSHD
from slurm_lab.hosts.ssh import SSHHost
from slurm_lab.slurm import argv as build
from tests.helpers import SERVER_USER, lab_server, ssh_config

from .common import summary, timed


def one_shot_argv(sshd: DevSSHD, cluster: DevCluster) -> list[str]:
    remote = ["env", f"SLURM_CONF={cluster.layout.conf}", *build.squeue("mine", "bench")]
    return [
        "ssh", "-p", str(sshd.port), "-i", str(sshd.client_key(SERVER_USER)),
        "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes", f"{SERVER_USER}@127.0.0.1", subprocess.list2cmdline(remote),
    ]  # fmt: skip


async def persistent(
    sshd: DevSSHD, cluster: DevCluster, rounds: int
) -> tuple[list[float], list[float], float]:
    host = SSHHost(
        host="127.0.0.1",
        port=sshd.port,
        username=SERVER_USER,
        client_keys=[str(sshd.client_key(SERVER_USER))],
        known_hosts=str(sshd.known_hosts),
        remote_env={"SLURM_CONF": str(cluster.layout.conf)},
        ssh_config=[],
    )
    started = time.perf_counter()
    await host.run_slurm(["true"])
    connect_ms = (time.perf_counter() - started) * 1000
    squeue, true = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        await host.run_slurm(build.squeue("mine", "bench"))
        squeue.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await host.run_slurm(["true"])
        true.append((time.perf_counter() - t) * 1000)
    await host.close()
    return squeue, true, connect_ms


async def concurrent_api(server_url: str, token: str, rounds: int) -> list[float]:
    """Rounds of 10 concurrent GET jobs/{id} for 10 different jobs: 10 SSH commands at once."""
    samples: list[float] = []
    async with httpx.AsyncClient(
        base_url=f"{server_url}slurm-lab/api/", headers={"Authorization": f"token {token}"}, timeout=60
    ) as api:
        script = {"script": "#!/bin/sh\ntrue\n", "options": {"hold": True, "job_name": "bench-ssh"}}
        ids = [(await api.post("jobs", json=script)).json()["job_id"] for _ in range(10)]

        async def one(job_id: str) -> None:
            t = time.perf_counter()
            (await api.get(f"jobs/{job_id}")).raise_for_status()
            samples.append((time.perf_counter() - t) * 1000)

        for _ in range(rounds):
            await asyncio.gather(*(one(job_id) for job_id in ids))
        await api.post("jobs/actions", json={"action": "cancel", "job_ids": ids})
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    cluster = DevCluster()
    cluster.up()
    sshd = DevSSHD(cluster.layout)
    sshd.up()

    squeue, true, connect_ms = asyncio.run(persistent(sshd, cluster, args.rounds))
    one_shot = [
        timed(lambda: subprocess.run(one_shot_argv(sshd, cluster), check=True, capture_output=True))
        for _ in range(args.rounds)
    ]
    print(f"connect + authenticate (asyncssh)      {connect_ms:8.2f} ms")
    print(summary("persistent connection: true", true))
    print(summary("persistent connection: squeue --me", squeue))
    print(summary("one-shot OpenSSH: ssh host squeue --me", one_shot))
    med = sorted(squeue)[len(squeue) // 2]
    print(f"{'one-shot / persistent (medians)':<38} {sorted(one_shot)[len(one_shot) // 2] / med:.1f}x")

    with lab_server(cluster, extra_config=ssh_config(sshd, cluster), backend="ssh") as server:
        try:
            samples = asyncio.run(concurrent_api(server.url, server.token, args.rounds))
        except httpx.HTTPStatusError:
            print("\n".join(line for line in server.log_text().splitlines() if "slurm" in line)[-3000:])
            raise
    print(summary("10 concurrent GET jobs/{id} via SSH", samples))


if __name__ == "__main__":
    main()
