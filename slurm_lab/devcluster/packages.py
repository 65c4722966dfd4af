"""Install the Debian packages a dev cluster needs, when they are missing and we may."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: Program -> the Debian package that ships it.
REQUIRED = {
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "sbatch": "slurm-client",
    "munged": "munge",
    "mungekey": "munge",
}
POLICY_RC = Path("/usr/sbin/policy-rc.d")


def missing_programs() -> list[str]:
    return [p for p in REQUIRED if not any(shutil.which(p, path=d) for d in (None, "/usr/sbin"))]


def ensure_packages() -> None:
    """Install slurm-wlm and munge with apt when missing; explain what to do when we cannot."""
    from .cluster import DevClusterError

    missing = missing_programs()
    if not missing:
        return
    packages = sorted({"slurm-wlm", *(REQUIRED[p] for p in missing)})
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise DevClusterError(
            f"missing {', '.join(missing)}; install them (e.g. as root: "
            f"apt-get install {' '.join(packages)}) and run this again"
        )
    install_debian_packages(packages)
    still = missing_programs()
    if still:
        raise DevClusterError(f"apt-get installed {packages} but {', '.join(still)} still missing")


def install_debian_packages(packages: list[str]) -> None:
    """``apt-get install`` without letting package scripts start daemons."""
    had_policy = POLICY_RC.exists()
    if not had_policy:
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            check=True,
            env=env,
        )
    except subprocess.CalledProcessError as exc:
        from .cluster import DevClusterError

        raise DevClusterError(f"apt-get failed ({exc.returncode}) installing {packages}") from exc
    finally:
        if not had_policy:
            POLICY_RC.unlink(missing_ok=True)
