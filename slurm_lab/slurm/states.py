"""Slurm's job states in one place: names, squeue's compact codes, which ones are final.

Slurm prints a state with a detail ("CANCELLED by 1001"); :func:`base_state` is the one place
that splits them.
"""

from __future__ import annotations

#: Slurm job states (long names); squeue's compact codes map onto them.
JOB_STATES = frozenset(
    [
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "COMPLETING",
        "CONFIGURING",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PENDING",
        "PREEMPTED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "RESV_DEL_HOLD",
        "REVOKED",
        "RUNNING",
        "SIGNALING",
        "SPECIAL_EXIT",
        "STAGE_OUT",
        "STOPPED",
        "SUSPENDED",
        "TIMEOUT",
    ]
)
COMPACT_STATES = {
    "BF": "BOOT_FAIL", "CA": "CANCELLED", "CD": "COMPLETED", "CG": "COMPLETING",
    "CF": "CONFIGURING", "DL": "DEADLINE", "F": "FAILED", "NF": "NODE_FAIL",
    "OOM": "OUT_OF_MEMORY", "PD": "PENDING", "PR": "PREEMPTED", "R": "RUNNING",
    "S": "SUSPENDED", "TO": "TIMEOUT", "ST": "STOPPED", "SE": "SPECIAL_EXIT", "RQ": "REQUEUED",
}  # fmt: skip

#: States after which a job no longer changes.
TERMINAL = frozenset(
    [
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "BOOT_FAIL",
        "DEADLINE",
        "PREEMPTED",
    ]
)


def base_state(state: str) -> str:
    """``"CANCELLED by 1001"`` -> ``"CANCELLED"``."""
    return state.split(" ", 1)[0]
