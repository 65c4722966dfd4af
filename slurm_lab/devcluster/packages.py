"""The one place that installs Debian packages, for ``./dev`` and for the dev cluster.

Standard library only: ``./dev`` runs it with the system ``python3`` before the venv exists
(``python3 -m slurm_lab.devcluster packages PKG...``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from .errors import DevClusterError

#: The JWT plugin is a shared object, not a program: found by file name, whatever the architecture.
JWT_PLUGIN = "/usr/lib/*/slurm-wlm/auth_jwt.so"
#: What the dev cluster needs -> the Debian package that ships it (a program, or a file pattern).
REQUIRED = {
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "sbatch": "slurm-client",
    "munged": "munge",
    "mungekey": "munge",
    "slurmrestd": "slurmrestd",
    JWT_PLUGIN: "slurm-wlm-jwt-plugin",
    "slurmdbd": "slurmdbd",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb": "mariadb-client-core",
}
#: Only what slurmrestd needs; rootless mode (Binder) does without it.
RESTD_ONLY = frozenset({"slurmrestd", JWT_PLUGIN})
#: Only what accounting needs (slurmdbd and its MariaDB); ``--accounting off`` does without it.
ACCOUNTING_ONLY = frozenset({"slurmdbd", "mariadbd", "mariadb-install-db", "mariadb"})
POLICY_RC = Path("/usr/sbin/policy-rc.d")


def present(what: str) -> bool:
    """True when a program (on PATH or in /usr/sbin) or a file pattern from REQUIRED is on this machine."""
    if what.startswith("/"):
        return bool(glob.glob(what))
    return any(shutil.which(what, path=folder) for folder in (None, "/usr/sbin"))


def missing_programs(restd: bool = True, accounting: bool = True) -> list[str]:
    """The entries of REQUIRED not on this machine (without slurmrestd's when ``restd`` is False, without
    slurmdbd's and MariaDB's when ``accounting`` is False)."""
    return [
        p
        for p in REQUIRED
        if (restd or p not in RESTD_ONLY) and (accounting or p not in ACCOUNTING_ONLY) and not present(p)
    ]


def ensure_packages(restd: bool = True, accounting: bool = True) -> None:
    """Install what the dev cluster needs with apt when missing; explain what to do when we cannot."""
    missing = missing_programs(restd, accounting)
    if not missing:
        return
    packages = sorted({"slurm-wlm", *(REQUIRED[p] for p in missing)})
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise DevClusterError(
            f"missing {', '.join(missing)}; install them (e.g. as root: "
            f"apt-get install {' '.join(packages)}) and run this again"
        )
    install_debian_packages(packages)
    still = missing_programs(restd, accounting)
    if still:
        raise DevClusterError(f"apt-get installed {packages} but {', '.join(still)} still missing")


def missing_packages(packages: Iterable[str]) -> list[str]:
    """The Debian packages among ``packages`` that dpkg does not list as installed."""
    wanted = list(dict.fromkeys(packages))
    if not wanted or not shutil.which("dpkg-query"):
        return wanted
    # Exit code 1 only means some name is unknown to dpkg: that one is missing.
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\\t${Status}\\n", *wanted],
        capture_output=True,
        text=True,
    )
    installed = {
        line.split("\t", 1)[0] for line in proc.stdout.splitlines() if line.endswith("\tinstall ok installed")
    }
    return [p for p in wanted if p not in installed]


def ensure_debian_packages(packages: Iterable[str]) -> None:
    """Install those of ``packages`` that are missing (as root), or say which to install."""
    missing = missing_packages(packages)
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise DevClusterError(
            f"missing system packages: {' '.join(missing)} (install them as root: "
            f"apt-get install {' '.join(missing)}, then run this again)"
        )
    install_debian_packages(missing)
    still = missing_packages(missing)
    if still:
        raise DevClusterError(f"apt-get ran but {' '.join(still)} still not installed")


def install_debian_packages(packages: list[str]) -> None:
    """``apt-get install`` without letting package scripts start daemons (the dev cluster runs its own)."""
    print(f"devcluster: installing {' '.join(packages)}", file=sys.stderr, flush=True)
    had_policy = POLICY_RC.exists()
    if not had_policy:
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        ):
            proc = subprocess.run(argv, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise DevClusterError(f"{' '.join(argv[:2])} failed ({proc.returncode}):\n{tail}")
    finally:
        if not had_policy:
            POLICY_RC.unlink(missing_ok=True)
