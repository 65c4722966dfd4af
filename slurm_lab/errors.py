"""Typed errors. Each names its problem; handlers map them to HTTP statuses in one place."""

from __future__ import annotations

from typing import Any


class SlurmLabError(Exception):
    """Base class. ``reason`` is a stable machine-readable code, ``message`` is for people."""

    reason = "error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class InvalidInput(SlurmLabError):
    """The request itself is wrong; ``field`` names the part at fault."""

    reason = "invalid_input"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field=field)
        self.field = field


class SlurmRejected(SlurmLabError):
    """Slurm refused the request (bad partition, time limit, ...); the message is Slurm's own."""

    reason = "slurm_rejected"


class PermissionDenied(SlurmLabError):
    reason = "permission_denied"


class JobNotFound(SlurmLabError):
    reason = "job_not_found"


class OutputNotAvailable(SlurmLabError):
    """The job exists but its output file cannot be read (not created yet, or not readable)."""

    reason = "output_not_available"


class OutputRefused(PermissionDenied):
    """A job's output path is not something slurm-lab will read (a FIFO, a device, /proc, or a
    file that is not the job's user's)."""

    reason = "output_refused"


class IdempotencyConflict(SlurmLabError):
    """An idempotency key was reused with a different request body."""

    reason = "idempotency_conflict"


class ControllerUnavailable(SlurmLabError):
    """slurmctld did not answer; try again after ``retry_after`` seconds."""

    reason = "controller_unavailable"

    def __init__(self, message: str, retry_after: int = 5, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.retry_after = retry_after


class AccountingUnavailable(SlurmLabError):
    """slurmdbd (Slurm's accounting: sacct, sacctmgr) did not answer while slurmctld may be fine:
    the queue keeps working; history and efficiency wait. Try again after ``retry_after`` seconds."""

    reason = "accounting_unavailable"

    def __init__(self, message: str, retry_after: int = 5, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.retry_after = retry_after


class BackendUnavailable(SlurmLabError):
    """The Slurm client tools cannot be reached or are not set up (missing CLI, no slurm.conf, SSH down)."""

    reason = "backend_unavailable"

    def __init__(self, message: str, retry_after: int = 10, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.retry_after = retry_after


class ProgramNotFound(BackendUnavailable):
    """The program to run does not exist (or is not executable) where commands run."""


class CommandTimeout(SlurmLabError):
    """A command ran out of time; ``partial_stderr`` is what it had said (never sent to clients)."""

    reason = "command_timeout"
    partial_stderr = ""


class CommandFailed(SlurmLabError):
    """A Slurm command failed in a way we do not recognise; the message carries its error line."""

    reason = "command_failed"


class UnexpectedOutput(CommandFailed):
    """A Slurm command printed something its parser does not understand (a new Slurm release?).

    Cached like any failure, so the last good data are served stale meanwhile.
    """

    reason = "unexpected_output"


class JobFinished(SlurmLabError):
    """The job (or task) has already finished, so it cannot be held, released or cancelled."""

    reason = "job_finished"


class AccountingDisabled(SlurmLabError):
    reason = "accounting_disabled"


class UnknownUser(SlurmLabError):
    """Slurm would act as someone other than the person using this server (or as nobody)."""

    reason = "unknown_user"


class NotSupported(SlurmLabError):
    """This way of reaching Slurm cannot do that (e.g. read output files with no host): 501."""

    reason = "not_supported"
