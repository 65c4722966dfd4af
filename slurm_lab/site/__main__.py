"""``python -m slurm_lab.site --socket /run/slurm-lab/queue.sock [--ttl 5]``: the site cache.

Run it as root or as SlurmUser (someone who sees every job), on the host where the users' Jupyter
servers run, and set ``c.SlurmLab.site_cache`` to the socket. See README, "Shared site cache".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from .. import errors
from ..hosts.local import LocalHost
from ..schedulers.cli import CliScheduler
from .server import SiteQueue, listen

log = logging.getLogger("slurm_lab.site")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m slurm_lab.site",
        description="One squeue listing per window for every user of this host, served over a Unix "
        "socket; each user sees what their own squeue shows.",
    )
    parser.add_argument("--socket", required=True, help="path of the Unix socket to serve on")
    parser.add_argument(
        "--ttl",
        type=float,
        default=5.0,
        help="seconds one listing serves everyone before squeue runs again; keep it below the "
        "servers' push_interval (10 s), so each pushed window gets a new listing (default 5)",
    )
    parser.add_argument(
        "--slow-ttl",
        type=float,
        default=60.0,
        help="seconds between reads of partitions' visibility and PrivateData (default 60)",
    )
    parser.add_argument(
        "--min-gap",
        type=float,
        default=1.0,
        help="fewest seconds between extra listings asked for after users' changes (default 1)",
    )
    parser.add_argument("--slurm-conf", default="", help="slurm.conf for the Slurm CLIs (default: theirs)")
    parser.add_argument("--slurm-bin-dir", default="", help="folder of squeue and scontrol (default: PATH)")
    parser.add_argument("--command-timeout", type=float, default=30.0, help="seconds a Slurm command may run")
    parser.add_argument(
        "--max-output-bytes", type=int, default=256 << 20, help="largest squeue output read (default 256 MiB)"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    for name in ("ttl", "slow_ttl", "min_gap", "command_timeout"):
        if not 0 <= getattr(args, name) <= 86400:
            parser.error(f"--{name.replace('_', '-')} must be 0..86400 seconds")
    return args


async def serve(args: argparse.Namespace) -> int:
    host = LocalHost(
        command_timeout=args.command_timeout,
        max_output_bytes=args.max_output_bytes,
        slurm_conf=args.slurm_conf,
        slurm_bin_dir=args.slurm_bin_dir,
    )
    site = SiteQueue(CliScheduler(host), args.ttl, args.slow_ttl, args.min_gap)
    try:
        await site.access()
    except errors.PermissionDenied as exc:
        log.error("slurm-lab site cache: %s", exc.message)
        return 2
    except errors.SlurmLabError as exc:  # Slurm down: serve anyway, and read it when it is back
        log.warning("slurm-lab site cache: Slurm does not answer yet: %s", exc.message)
    try:
        server = listen(site, args.socket)
    except (errors.SlurmLabError, OSError, ValueError) as exc:
        log.error("slurm-lab site cache: cannot serve on %s: %s", args.socket, getattr(exc, "message", exc))
        return 2
    log.info(
        "slurm-lab site cache on %s: one squeue --all per %g s for every user (as uid %d)",
        args.socket, args.ttl, os.geteuid(),
    )  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    with contextlib.suppress(OSError):
        os.unlink(args.socket)
    await site.settled()
    await site.close()
    log.info("slurm-lab site cache stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
