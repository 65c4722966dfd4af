"""``python -m slurm_lab.devcluster COMMAND``: manage the embedded dev cluster (up, down, env, ...)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .cluster import DAEMONS, DevCluster
from .config import DEFAULT_MAX_JOBS, DEFAULT_NODES
from .errors import DevClusterError
from .packages import ensure_debian_packages, ensure_packages
from .sshd import DEFAULT_PORT, DevSSHD


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (1 with a message on stderr when something is wrong)."""
    parser = argparse.ArgumentParser(prog="python -m slurm_lab.devcluster", description=__doc__)
    parser.add_argument(
        "--dir", type=Path, help="cluster folder (default: $SLURM_LAB_DEVCLUSTER_DIR or a per-mode default)"
    )
    parser.add_argument(
        "--port-base",
        type=int,
        help="slurmctld's port; the others follow it (default: $SLURM_LAB_DEVCLUSTER_PORT_BASE, the one kept "
        "in the folder, else 6817 as root, 7817 rootless)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start what is not running and wait until every node is ready")
    up.add_argument("--timeout", type=float, default=120.0)
    up.add_argument(
        "--nodes", type=int, help=f"number of nodes c1..cN (default {DEFAULT_NODES}; kept for later ups)"
    )
    up.add_argument(
        "--accounting",
        choices=["on", "off"],
        help="slurmdbd + MariaDB (default on; off: no accounting database; kept for later ups)",
    )
    up.add_argument(
        "--max-jobs",
        type=int,
        help=f"slurmctld's MaxJobCount (default {DEFAULT_MAX_JOBS}; kept for later ups)",
    )
    down = sub.add_parser("down", help="stop our own daemons (all, or those named)")
    down.add_argument("daemons", nargs="*", choices=[*DAEMONS, []], metavar="DAEMON")
    sub.add_parser("status", help="show daemons and node states; exit 1 when a node is not ready")
    node = sub.add_parser("node", help="stop (a failed node) or restart one node's slurmd")
    node.add_argument("action", choices=["down", "up"])
    node.add_argument("name", help="c1, c2, ...")
    node.add_argument("--reason", help="down: also set the node DOWN with this reason at once (scontrol)")
    node.add_argument("--timeout", type=float, default=60.0, help="up: seconds to wait for the node")
    sub.add_parser("env", help='print shell exports for Slurm clients (eval "$(... env)")')
    token = sub.add_parser("token", help="print a JWT for USER (slurmrestd's X-SLURM-USER-TOKEN)")
    token.add_argument("user")
    token.add_argument("--lifespan", type=int, default=3600, metavar="SECONDS")
    sshd = sub.add_parser("sshd", help="a real sshd on 127.0.0.1 for the SSH backend (root mode)")
    sshd.add_argument("action", choices=["up", "down", "status"])
    sshd.add_argument("--port", type=int, default=DEFAULT_PORT)
    packages = sub.add_parser(
        "packages",
        help="install missing Debian packages as root, else say which (default: what the cluster needs)",
    )
    packages.add_argument("names", nargs="*", metavar="PACKAGE")
    args = parser.parse_args(argv)

    try:
        if args.command == "packages":
            if args.names:
                ensure_debian_packages(args.names)
            else:
                ensure_packages(restd=os.geteuid() == 0)
            return 0
        return _cluster_command(args, DevCluster(args.dir, port_base=args.port_base))
    except DevClusterError as exc:
        print(f"devcluster: {exc}", file=sys.stderr)
        return 1


def _cluster_command(args: argparse.Namespace, cluster: DevCluster) -> int:
    if args.command == "up":
        accounting = None if args.accounting is None else args.accounting == "on"
        cluster.up(timeout=args.timeout, nodes=args.nodes, accounting=accounting, max_jobs=args.max_jobs)
        print(f"dev cluster ready; export SLURM_CONF={cluster.layout.conf}")
    elif args.command == "down":
        cluster.down(tuple(args.daemons) or DAEMONS)
    elif args.command == "node":
        if args.action == "down":
            cluster.node_down(args.name, args.reason)
        else:
            cluster.node_up(args.name, timeout=args.timeout)
    elif args.command == "status":
        return _status(cluster)
    elif args.command == "token":
        print(cluster.token(args.user, args.lifespan))
    elif args.command == "sshd":
        daemon = DevSSHD(cluster.layout, args.port)
        if args.action == "up":
            daemon.up()
            print(f"sshd on 127.0.0.1:{args.port}; known_hosts {daemon.known_hosts}")
        elif args.action == "down":
            daemon.down()
        else:
            print("running" if daemon.running() else "stopped")
            return 0 if daemon.running() else 1
    elif args.command == "env":
        for key, value in {**cluster.env, **cluster.restd_env}.items():
            print(f"export {key}={shlex.quote(value)}")
    return 0


def _status(cluster: DevCluster) -> int:
    for d in cluster.daemon_status():
        label = d.name.replace(":", " ")
        print(f"{label:12} {'running' if d.running else 'stopped':8} pid={d.pid or '-'}")
    ports = cluster.ports
    if cluster.accounting:
        print(f"accounting   on (slurmdbd port {ports.dbd}, MariaDB 127.0.0.1:{ports.mariadb})")
    else:
        print("accounting   off (no slurmdbd: sacct -c reads the job-completion log)")
    states = cluster.node_states()
    if states is None:
        print("nodes        unreachable (slurmctld does not answer)")
        return 1
    for s in states:
        reason = f"  {s.reason}" if s.reason and s.reason != "none" else ""
        print(f"node {s.name:7} {s.state}{reason}")
    return 0 if all(s.ready for s in states) else 1


if __name__ == "__main__":
    sys.exit(main())
