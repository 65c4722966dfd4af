"""The singleuser image's entrypoint, run directly (there is no container engine here).

Each test installs into its own prefix (``SLURM_LAB_ROOT``) with a private munged, mounted files
are root-owned 0644 copies (as Kubernetes mounts a Secret), and the good path submits a real job
through the munged the entrypoint started.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import ROOTFUL, SERVER_USER, user_argv, wait_for

ENTRYPOINT = Path(__file__).parents[2] / "deploy" / "singleuser" / "slurm-lab-entrypoint"
pytestmark = pytest.mark.skipif(not ROOTFUL, reason="the entrypoint runs as root, as in the image")


@dataclass
class Mounts:
    """What the pod would have: mounted sources, the install prefix, and a marker for the command."""

    base: Path
    key: Path
    conf: Path
    root: Path
    termination_log: Path
    marker: Path

    def run(
        self, *command: str, env: dict[str, str] | None = None, user: str = "root"
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            "PATH": os.environ["PATH"],
            "SLURM_LAB_ROOT": str(self.root),
            "SLURM_LAB_MUNGE_KEY_SOURCE": str(self.key),
            "SLURM_LAB_SLURM_CONF_SOURCE": str(self.conf),
            "SLURM_LAB_TERMINATION_LOG": str(self.termination_log),
            "SLURM_LAB_CONTROLLER_TIMEOUT": "5",
            **(env or {}),
        }
        argv = [str(ENTRYPOINT), *(command or ("touch", str(self.marker)))]
        if user != "root":
            argv = user_argv(user, argv, full_env)
        return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=60)

    def set_conf(self, text: str) -> None:
        self.conf.write_text(text)


@pytest.fixture
def mounts(cluster: DevCluster) -> Iterator[Mounts]:
    base = Path("/var/lib/slurm-lab/entrypoint-test")
    shutil.rmtree(base, ignore_errors=True)
    (base / "mnt").mkdir(parents=True)
    base.chmod(0o755)
    root = base / "root"
    key, conf = base / "mnt" / "munge.key", base / "mnt" / "slurm.conf"
    shutil.copyfile(cluster.layout.munge_key, key)
    key.chmod(0o644)
    # The cluster's slurm.conf, pointing clients at the socket the entrypoint's munged opens.
    socket = root / "run" / "munge" / "munge.socket.2"
    lines = cluster.layout.conf.read_text().splitlines()
    conf.write_text(
        "\n".join(f"AuthInfo=socket={socket}" if ln.startswith("AuthInfo=") else ln for ln in lines) + "\n"
    )
    out = base / "out"  # what the tests (and the job, as the user) write
    out.mkdir()
    out.chmod(0o1777)
    yield Mounts(base, key, conf, root, out / "termination-log", out / "command-ran")
    _stop_munged(root)
    shutil.rmtree(base, ignore_errors=True)


def _stop_munged(root: Path) -> None:
    pidfile = root / "run" / "munge" / "munged.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, what="munged to exit")


def test_installs_key_and_conf_starts_munged_and_jobs_run_as_the_user(mounts: Mounts) -> None:
    job_out = mounts.marker.with_name("job.out")
    # Like start.sh: drop to the user and keep the environment the entrypoint exported.
    user = pwd.getpwnam(SERVER_USER)
    drop = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    proc = mounts.run(*drop, "sh", "-c", f'sbatch --wait --wrap "id -un" -o {job_out} && echo "$SLURM_CONF"')
    assert proc.returncode == 0, proc.stderr
    assert "slurmctld answers; partitions: debug* long" in proc.stderr
    assert proc.stdout.strip().endswith(str(mounts.root / "etc/slurm/slurm.conf"))
    assert job_out.read_text().strip() == SERVER_USER
    key = (mounts.root / "etc/munge/munge.key").stat()
    assert (key.st_uid, key.st_mode & 0o777) == (pwd.getpwnam("munge").pw_uid, 0o400)
    assert (mounts.root / "etc/slurm/slurm.conf").read_text() == mounts.conf.read_text()


def _assert_fails(mounts: Mounts, proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert not mounts.marker.exists(), "the command ran although set-up failed"
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("slurm-lab-entrypoint: error: ")
    for needle in needles:
        assert needle in message
    assert "Traceback" not in proc.stderr
    assert mounts.termination_log.read_text().strip() == message


def test_missing_key_names_the_file(mounts: Mounts) -> None:
    mounts.key.unlink()
    _assert_fails(mounts, mounts.run(), f"munge key {mounts.key} is missing", "SLURM_LAB_MUNGE_KEY_SOURCE")


def test_missing_conf_names_the_file(mounts: Mounts) -> None:
    mounts.conf.unlink()
    _assert_fails(mounts, mounts.run(), f"slurm.conf {mounts.conf} is missing")


def test_key_of_another_cluster_is_rejected_naming_both_files(mounts: Mounts) -> None:
    subprocess.run(["mungekey", "--create", "--force", f"--keyfile={mounts.key}"], check=True)
    mounts.key.chmod(0o644)
    _assert_fails(
        mounts, mounts.run(), "rejected this container's munge credential", str(mounts.key), str(mounts.conf)
    )


def test_something_that_is_no_key(mounts: Mounts) -> None:
    mounts.key.write_text("not a key\n")
    _assert_fails(mounts, mounts.run(), str(mounts.key), "has 10 bytes")


def test_broken_conf_shows_slurms_parse_error(mounts: Mounts) -> None:
    mounts.set_conf(mounts.conf.read_text() + "NoSuchOption=1\n")
    _assert_fails(mounts, mounts.run(), f"Slurm cannot use {mounts.conf}", "unrecognized key: NoSuchOption")


def test_unreachable_controller_warns_or_fails_as_configured(mounts: Mounts) -> None:
    text = mounts.conf.read_text()
    # A port nothing listens on: what a slurm.conf of the wrong cluster (or a down controller) gives.
    mounts.set_conf(
        "\n".join("SlurmctldPort=1" if ln.startswith("SlurmctldPort=") else ln for ln in text.splitlines())
    )
    proc = mounts.run(env={"SLURM_LAB_CONTROLLER_TIMEOUT": "3"})
    assert proc.returncode == 0 and mounts.marker.exists(), proc.stderr
    assert "warning: slurmctld from" in proc.stderr and "starting anyway" in proc.stderr
    mounts.marker.unlink()
    _stop_munged(mounts.root)  # as a fresh pod would have it
    _assert_fails(
        mounts,
        mounts.run(env={"SLURM_LAB_CONTROLLER_TIMEOUT": "3", "SLURM_LAB_CONTROLLER_CHECK": "fail"}),
        f"slurmctld from {mounts.conf} cannot be reached",
    )


def test_refuses_to_start_without_root(mounts: Mounts) -> None:
    _assert_fails(mounts, mounts.run(user=SERVER_USER), "must start as root", "singleuser.uid: 0")


def test_ssh_variant_needs_no_key_conf_or_root(mounts: Mounts) -> None:
    mounts.key.unlink()
    mounts.conf.unlink()
    proc = mounts.run(env={"SLURM_LAB_SETUP": "none"}, user=SERVER_USER)
    assert proc.returncode == 0 and mounts.marker.exists(), proc.stderr
    assert not (mounts.root / "run/munge").exists()
