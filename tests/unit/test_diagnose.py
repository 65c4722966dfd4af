"""Error texts of the 22.05 CLIs (captured on the dev cluster) map to typed errors."""

from __future__ import annotations

import pytest

from slurm_lab import errors
from slurm_lab.slurm.diagnose import diagnose

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
