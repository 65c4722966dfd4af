"""Error texts of the 22.05 CLIs (captured on the dev cluster) map to typed errors."""

from __future__ import annotations

import pytest

from slurm_lab import errors
from slurm_lab.slurm.diagnose import diagnose

MUNGE_DOWN = (
    "squeue: error: If munged is up, restart with --num-threads=10\n"
    'squeue: error: Munge encode failed: Failed to access "/run/munge/munge.socket.2": No such file or directory (Did you start munged?)\n'
    "squeue: error: slurm_send_node_msg: auth_g_create: REQUEST_JOB_INFO has authentication error\n"
    "slurm_load_jobs error: Protocol authentication error\n"
)
#: slurmdbd stopped (``devcluster down slurmdbd``): sacct and sacctmgr as Slurm 22.05 prints them.
DBD_DOWN_SACCT = (
    "sacct: error: slurm_persist_conn_open_without_init: failed to open persistent connection to host:vm:6819: Connection refused\n"
    "sacct: error: Sending PersistInit msg: Connection refused\n"
    "sacct: error: Problem talking to the database: Connection refused\n"
)
DBD_DOWN_SACCTMGR = (
    "sacctmgr: error: slurm_persist_conn_open_without_init: failed to open persistent connection to host:vm:6819: Connection refused\n"
    "sacctmgr: error: Sending PersistInit msg: Connection refused\n"
)
#: slurmdbd running, its MariaDB stopped.
DB_DOWN_SACCT = (
    "sacct: error: slurm_persist_conn_open: Something happened with the receiving/processing of the persistent connection init message to vm:6819: Unable to connect to database\n"
    "sacct: error: Sending PersistInit msg: Unable to connect to database\n"
    "sacct: error: Problem talking to the database: Unable to connect to database\n"
)
#: slurmdbd frozen (SIGSTOP): after 45 s.
DBD_FROZEN_SACCT = (
    "sacct: error: slurm_persist_conn_open: No response to persist_init\n"
    "sacct: error: Sending PersistInit msg: Resource temporarily unavailable\n"
    "sacct: error: Problem talking to the database: Resource temporarily unavailable\n"
)
CASES = [
    ("squeue", 1, "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n", errors.ControllerUnavailable),
    ("squeue", 1, "squeue: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host\nsqueue: fatal: Could not establish a configuration source\n", errors.BackendUnavailable),
    ("scancel", 210, "scancel: error: Kill job error on job id 3: Access/permission denied\n", errors.PermissionDenied),
    ("scontrol", 1, "Invalid user id for job 3\nslurm_suspend error: Invalid user id\n", errors.PermissionDenied),
    ("scontrol", 1, "slurm_load_jobs error: Invalid job id specified\n", errors.JobNotFound),
    ("sbatch", 1, "sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified\n", errors.SlurmRejected),
    ("sbatch", 255, "sbatch: error: Invalid --time specification\n", errors.SlurmRejected),
    ("sbatch", 1, "sbatch: error: Batch job submission failed: Slurm temporarily unable to accept job, sleeping and retrying\n", errors.ControllerUnavailable),
    ("sinfo", 1, "sinfo: error: something new\n", errors.CommandFailed),
    ("scontrol", 1, "Job has already finished for job 10\nslurm_suspend error: Job has already finished\n", errors.JobFinished),
    ("scontrol", 1, "9_99: Invalid job id specified\n", errors.JobNotFound),
    ("scontrol", 1, "Job 5_99 not found\n", errors.JobNotFound),
    ("scancel", 0, "scancel: error: Kill job error on job id 10: Job/step already completing or completed\n", errors.JobFinished),
    ("squeue", 1, MUNGE_DOWN, errors.BackendUnavailable),
    ("sbatch", 1, "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n", errors.ControllerUnavailable),
    ("sacct", 1, DBD_DOWN_SACCT, errors.AccountingUnavailable),
    ("sacctmgr", 1, DBD_DOWN_SACCTMGR, errors.AccountingUnavailable),
    ("sacct", 1, DB_DOWN_SACCT, errors.AccountingUnavailable),
    ("sacct", 1, DBD_FROZEN_SACCT, errors.AccountingUnavailable),
]  # fmt: skip


@pytest.mark.parametrize(("tool", "rc", "stderr", "kind"), CASES)
def test_diagnose(tool: str, rc: int, stderr: str, kind: type[errors.SlurmLabError]) -> None:
    error = diagnose(tool, rc, stderr)
    assert type(error) is kind
    assert "Traceback" not in error.message and error.message


def test_messages_quote_slurm() -> None:
    assert diagnose("sbatch", 1, CASES[5][2]).message == "Invalid partition name specified"
    msg = diagnose("scancel", 210, CASES[2][2]).message
    assert msg == "Slurm denied the request: Kill job error on job id 3: Access/permission denied"
    assert "something new" in diagnose("sinfo", 1, "sinfo: error: something new\n").message


def test_a_munge_outage_is_named_as_such_not_as_the_controller() -> None:
    error = diagnose("squeue", 1, MUNGE_DOWN)
    assert error.message.startswith("munge: Failed to access")
    assert "controller" not in error.message.lower()


def test_slurmdbd_down_is_accounting_not_the_controller() -> None:
    """Its lines say "Connection refused" too: accounting is recognised before the controller."""
    sacct = diagnose("sacct", 1, DBD_DOWN_SACCT)
    assert type(sacct) is errors.AccountingUnavailable  # not ControllerUnavailable: the guard ignores it
    assert sacct.reason == "accounting_unavailable" and sacct.retry_after > 0
    assert sacct.message == (
        "Slurm accounting (slurmdbd) unavailable: Problem talking to the database: Connection refused"
    )
    assert diagnose("sacctmgr", 1, DBD_DOWN_SACCTMGR).message == (
        "Slurm accounting (slurmdbd) unavailable: Sending PersistInit msg: Connection refused"
    )
    assert diagnose("sacct", 1, DB_DOWN_SACCT).message.endswith(
        "Problem talking to the database: Unable to connect to database"
    )
    # A refused connection to slurmctld is still the controller.
    refused = "squeue: error: slurm_load_jobs error: Connection refused\n"
    assert type(diagnose("squeue", 1, refused)) is errors.ControllerUnavailable
