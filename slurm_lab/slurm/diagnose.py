"""Turn a failed Slurm command (exit code + stderr) into a typed error. Pure."""

from __future__ import annotations

import re

from ..errors import (
    AccountingUnavailable,
    BackendUnavailable,
    CommandFailed,
    ControllerUnavailable,
    JobFinished,
    JobNotFound,
    PermissionDenied,
    SlurmLabError,
    SlurmRejected,
)

#: The CLIs could not get a credential from munged (stopped, wrong socket): not the controller.
_MUNGE = re.compile(r"Munge (?:encode|decode) failed: (.+)|Failed to access \"([^\"]+)\"")
#: slurmdbd cannot answer sacct/sacctmgr (stopped: "Connection refused"; its database down: "Unable
#: to connect to database"; frozen: "No response to persist_init"): not the controller, whose
#: queue still answers. Checked first: these lines carry "Connection refused" too.
_ACCOUNTING_DOWN = ("Problem talking to the database", "Sending PersistInit msg", "slurm_persist_conn_open")
_CONTROLLER_DOWN = (
    "Unable to contact slurm controller",
    "Socket timed out on send/recv",
    "Zero Bytes were transmitted or received",
    "Slurm temporarily unable to accept job",
    "Communication connection failure",
    "Connection refused",
    "is DOWN",
)
_NOT_CONFIGURED = ("Could not establish a configuration source", "Unable to process configuration file")
_PERMISSION = ("Access/permission denied", "Invalid user id", "Permission denied", "Only root")
_NOT_FOUND = re.compile(r"Invalid job id|^Job \S+ not found", re.MULTILINE)
_FINISHED = ("Job has already finished", "already completing or completed")
_SUBMIT_FAILED = re.compile(r"(?:Batch job submission failed|allocation failure): (.+)")
_TOOL_PREFIX = re.compile(r"^\s*(?:[a-z_]+: )?(?:error|fatal): ", re.IGNORECASE)
_PERMISSION_RC = 210


def error_lines(stderr: str) -> list[str]:
    """The human part of each stderr line, without ``tool: error:`` prefixes."""
    return [_TOOL_PREFIX.sub("", line).strip() for line in stderr.splitlines() if line.strip()]


def diagnose(tool: str, returncode: int, stderr: str) -> SlurmLabError:
    """The typed error for a failed ``tool`` run."""
    lines = error_lines(stderr)
    if any(s in stderr for s in _NOT_CONFIGURED):
        return BackendUnavailable(
            f"{tool} cannot find the Slurm configuration; set SLURM_CONF "
            "(c.SlurmLab.slurm_conf) or configure the login node"
        )
    munge = _MUNGE.search(stderr)
    if munge:
        return BackendUnavailable(f"munge: {munge.group(1) or munge.group(0)}")
    if any(s in stderr for s in _ACCOUNTING_DOWN):
        return AccountingUnavailable(
            f"Slurm accounting (slurmdbd) unavailable: {_first_meaningful(lines, _ACCOUNTING_DOWN[:1])}"
        )
    if any(s in stderr for s in _CONTROLLER_DOWN):
        return ControllerUnavailable(f"Slurm controller unavailable: {_first_meaningful(lines)}")
    if returncode == _PERMISSION_RC or any(s in stderr for s in _PERMISSION):
        return PermissionDenied(f"Slurm denied the request: {_first_meaningful(lines, _PERMISSION)}")
    if _NOT_FOUND.search(stderr):
        return JobNotFound("no such job (Slurm: Invalid job id specified)")
    if any(s in stderr for s in _FINISHED):
        return JobFinished(f"the job has already finished (Slurm: {_first_meaningful(lines, _FINISHED)})")
    m = _SUBMIT_FAILED.search(stderr)
    if m:
        return SlurmRejected(m.group(1).strip())
    if tool == "sbatch" and lines:
        # Client-side checks (e.g. "Invalid --time specification", "not a batch script").
        return SlurmRejected(" ".join(lines))
    return CommandFailed(f"{tool} failed (exit {returncode}): {_first_meaningful(lines) or 'no message'}")


def _first_meaningful(lines: list[str], prefer: tuple[str, ...] = ()) -> str:
    for line in lines:
        if any(p in line for p in prefer):
            return line
    return lines[-1] if lines else ""
