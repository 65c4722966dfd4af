"""``python -m slurm_lab.devcluster COMMAND``: manage the embedded dev cluster (up, down, env, ...)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .cluster import DAEMONS, DevCluster
from .errors import DevClusterError
from .packages import ensure_debian_packages, ensure_packages
from .sshd import DEFAULT_PORT, DevSSHD


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (1 with a message on stderr when something is wrong)."""
    parser = argparse.ArgumentParser(prog="python -m slurm_lab.devcluster", description=__doc__)
    parser.add_argument(
        "--dir", type=Path, help="cluster folder (default: $SLURM_LAB_DEVCLUSTER_DIR or a per-mode default)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start what is not running and wait until the node is ready")
    up.add_argument("--timeout", type=float, default=60.0)
    down = sub.add_parser("down", help="stop our own daemons (all, or those named)")
    down.add_argument("daemons", nargs="*", choices=[*DAEMONS, []], metavar="DAEMON")
    sub.add_parser("status", help="show daemons and node state; exit 1 when not ready")
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
        return _cluster_command(args, DevCluster(args.dir))
    except DevClusterError as exc:
        print(f"devcluster: {exc}", file=sys.stderr)
        return 1


def _cluster_command(args: argparse.Namespace, cluster: DevCluster) -> int:
    if args.command == "up":
        cluster.up(timeout=args.timeout)
        print(f"dev cluster ready; export SLURM_CONF={cluster.layout.conf}")
    elif args.command == "down":
        cluster.down(tuple(args.daemons) or DAEMONS)
    elif args.command == "status":
        for d in cluster.daemon_status():
            print(f"{d.name:10} {'running' if d.running else 'stopped':8} pid={d.pid or '-'}")
        state = cluster.node_state()
        print(f"node       {state or 'unreachable'}")
        return 0 if state else 1
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


if __name__ == "__main__":
    sys.exit(main())
