"""Why a job is pending, in plain words, with what the user can do about it. Pure.

Slurm shows a reason code (squeue's %r, scontrol's Reason=): ``Resources``, ``Priority``,
``QOSMaxCpuPerUserLimit``, ``ReqNodeNotAvail, UnavailableNodes:c2``, ... Each explanation says
what the code means for this job and the user's next step; limit codes (``QOS`` or ``Assoc``,
``Grp`` or ``Max``, a resource, a scope, ``Limit``) are read from their parts, so every limit
Slurm names is explained, including ones added in later releases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Explanation:
    reason: str  # Slurm's code, as shown
    text: str  # what it means
    action: str  # what the user can do ("" when waiting is all there is)


_KNOWN: dict[str, tuple[str, str]] = {
    "Resources": (
        "The job is next in line, waiting for enough free CPUs, memory, GPUs or nodes.",
        "Wait; asking for less (fewer CPUs, less memory, a shorter --time) can start it sooner.",
    ),
    "Priority": (
        "Jobs with a higher priority are ahead of this one.",
        "Wait; a shorter --time lets the backfill scheduler start it in gaps between bigger jobs.",
    ),
    "Dependency": (
        "The job waits for the jobs it depends on (--dependency) to reach the required state.",
        "",
    ),
    "DependencyNeverSatisfied": (
        "A job it depends on ended in a way that can never satisfy the dependency (e.g. afterok "
        "on a job that failed), so this job will never start.",
        "Cancel it and resubmit without the dependency, or with --kill-on-invalid-dep=yes next time.",
    ),
    "JobHeldUser": ("The job is held by its owner (--hold or a Hold action).", "Release it to let it run."),
    "JobHeldAdmin": (
        "An administrator holds the job.",
        "Ask the cluster's administrators; only they can release it.",
    ),
    "BeginTime": (
        "The job may not start before a given time: the one it asked for (--begin) or, after Slurm "
        "requeued it (its node failed, or a requeue), about two minutes on while the last run is "
        "cleaned up.",
        "",
    ),
    "ReqNodeNotAvail": (
        "Nodes the job needs are unavailable (down, drained or reserved).",
        "Wait for them, or resubmit without --nodelist / with fewer nodes or another partition.",
    ),
    "PartitionTimeLimit": (
        "The job's --time is longer than its partition allows, so it cannot start there.",
        "Cancel and resubmit with a shorter --time or to a partition with a longer limit.",
    ),
    "PartitionNodeLimit": (
        "The job asks for more nodes than its partition allows per job.",
        "Resubmit with fewer nodes or to another partition.",
    ),
    "PartitionDown": ("The job's partition is down.", "Wait for the administrators, or resubmit elsewhere."),
    "PartitionInactive": ("The job's partition is inactive.", "Resubmit to another partition."),
    "NodeDown": (
        "A node the job needs (or ran on) is down: a job that ran there ended NODE_FAIL or was requeued.",
        "Wait, or resubmit to avoid that node (--exclude); the Nodes view says why it is down.",
    ),
    "Reservation": ("The job waits for its advance reservation to start.", ""),
    "Licenses": ("The licenses the job asked for (--licenses) are in use.", ""),
    "JobArrayTaskLimit": (
        "The array's throttle (%N in --array) lets only that many tasks run at once.",
        "",
    ),
    "BadConstraints": (
        "No node can ever satisfy the job's constraints (features, memory, CPUs).",
        "Cancel and resubmit with a request some node can meet.",
    ),
    "InvalidAccount": (
        "The job's account is invalid or you are not in it.",
        "Resubmit with a valid --account.",
    ),
    "InvalidQOS": ("The job's QOS is invalid for your account.", "Resubmit with a valid --qos."),
    "launch failed requeued held": (
        "Slurm could not launch the job on its node (a node or prolog problem), requeued it and held it.",
        "Check the node's reason in the Nodes view, then release the job to try again.",
    ),
    "JobLaunchFailure": (
        "Slurm could not launch the job (a node, file system or prolog problem).",
        "Check the job's output folder and the node; resubmit if it persists.",
    ),
    "Prolog": ("The node is running its prolog script before the job starts.", ""),
    "Cleaning": ("The job is being cleaned up after a requeue before it can start again.", ""),
    "FrontEndDown": ("No front-end node is available to launch the job.", ""),
    "SystemFailure": ("A Slurm or node failure stopped the job from starting.", "Ask the administrators."),
    "BurstBufferResources": ("The burst buffer the job needs is not available yet.", ""),
}

_LIMIT = re.compile(
    r"(?P<owner>QOS|Assoc)(?P<kind>Grp|Max|Min)?(?P<what>.*?)(?P<scope>PerUser|PerAccount|PerJob|PerNode)?Limit$"
)
_RESOURCES = {
    "Cpu": "CPUs", "CPU": "CPUs", "Mem": "memory", "Memory": "memory", "Node": "nodes", "Nodes": "nodes",
    "Gres": "GPUs or other generic resources", "Billing": "billing units", "Energy": "energy",
    "CpuMin": "CPU minutes", "CPUMinutes": "CPU minutes", "CpuMinutes": "CPU minutes",
    "CPUMins": "CPU minutes",
    "MemMin": "memory minutes", "NodeMin": "node minutes", "GresMin": "GPU minutes",
    "BillingMinutes": "billing minutes",
    "CpuRunMinutes": "CPU minutes of running jobs", "CPURunMinutes": "CPU minutes of running jobs",
    "MemRunMinutes": "memory minutes of running jobs", "NodeRunMinutes": "node minutes of running jobs",
    "Jobs": "running jobs", "Job": "running jobs", "SubmitJob": "queued jobs", "Submit": "queued jobs",
    "Wall": "wall time", "WallDuration": "wall time", "Time": "time",
}  # fmt: skip
_SCOPES = {"PerUser": "per user", "PerAccount": "per account", "PerJob": "per job", "PerNode": "per node"}


def explain(reason: str | None) -> Explanation | None:
    """The explanation of a pending reason, or None for no reason ("None", empty)."""
    if not reason or reason == "None":
        return None
    code = reason.split(",", 1)[0].strip()  # "ReqNodeNotAvail, UnavailableNodes:c2"
    if code in _KNOWN:
        text, action = _KNOWN[code]
        # scontrol shows "ReqNodeNotAvail,_UnavailableNodes:c2" (spaces as underscores).
        detail = reason.split(",", 1)[1].strip(" _") if "," in reason else ""
        if detail:
            text = f"{text} ({detail})"
        return Explanation(reason, text, action)
    if reason in _KNOWN:
        return Explanation(reason, *_KNOWN[reason])
    m = _LIMIT.fullmatch(code)
    if m:
        return _limit(reason, m)
    return Explanation(reason, f"Slurm says: {reason}.", "")


def _limit(reason: str, m: re.Match[str]) -> Explanation:
    owner = "your QOS" if m["owner"] == "QOS" else "your account (association)"
    what = _RESOURCES.get(m["what"] or "", m["what"] or "resources")
    scope = _SCOPES.get(m["scope"] or "", "")
    if m["kind"] == "Grp":
        limit = f"the group limit of {owner} on {what}"
    elif m["kind"] == "Min":
        limit = f"the minimum of {owner} on {what}"
    else:
        limit = f"the limit of {owner} on {what}" + (f" {scope}" if scope else "")
    minutes = "minutes" in what
    text = f"The job would exceed {limit}, so it waits" + (
        " until usage decays or the allocation is renewed." if minutes else " until other jobs finish."
    )
    action = (
        "Ask for less, or ask the administrators to raise the limit; My account shows the limits."
        if not minutes
        else "Usage ages out over time (fairshare decay); My account shows what is left."
    )
    return Explanation(reason, text, action)
