"""Who sees which jobs of the site cache's one listing: what their own squeue shows, never more.

Pure functions. A plain ``squeue`` (no ``--all``; Slurm 22.05's ``pack_all_jobs``) leaves out:

- jobs none of whose partitions the user may see: a Hidden partition is seen by nobody but root
  and SlurmUser (not even by the jobs' owners), one with AllowGroups by members of those groups
  only (``ALL``: by everyone). A job asking for several partitions is seen when one of them is.
  A job naming a partition the controller no longer lists (deleted since) is not shown here,
  as slurmctld does not show a job whose partition is gone;
- revoked jobs (federation: the copies of a job another cluster runs);
- with ``PrivateData=jobs``, other users' jobs. Slurm also shows them to operators, administrators
  and account coordinators; the site cache shows those people only their own (less, never more).

Root and SlurmUser see every job, as in Slurm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..models import JOB_FIELDS, JobRow, PartitionAccess, Scope
from ..slurm.parsers import parse_uid
from ..slurm.states import base_state

_UID = JOB_FIELDS.index("user_id")
_STATE = JOB_FIELDS.index("state")
_PARTITION = JOB_FIELDS.index("partition")


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks, as the operating system says: their uid and the names of all their groups."""

    uid: int
    groups: frozenset[str]


@dataclass(frozen=True, slots=True)
class SiteAccess:
    """What the controller says about visibility: partitions by name, whether PrivateData hides
    other users' jobs, and the uids that see everything (root and SlurmUser)."""

    partitions: Mapping[str, PartitionAccess]
    private_jobs: bool
    privileged: frozenset[int]


@dataclass(frozen=True, slots=True)
class View:
    """What one request may see: the jobs of these ``partitions`` (None: any) owned by ``owner``
    (None: anyone), none naming a partition outside ``known``. Hashable: requests with equal
    views share one encoded body."""

    partitions: frozenset[str] | None
    owner: int | None
    known: frozenset[str] = frozenset()


def site_access(config: Mapping[str, str], partitions: Iterable[PartitionAccess]) -> SiteAccess:
    """From ``scontrol show config`` (as :func:`parsers.parse_config` reads it) and the
    partitions' access. Raises ValueError when PrivateData or SlurmUser is missing: guessing
    either could show someone more than Slurm does."""
    private = config.get("PrivateData")
    slurm_user = parse_uid(config.get("SlurmUser"))
    if private is None or slurm_user is None:
        raise ValueError("scontrol show config names no PrivateData or no SlurmUser")
    words = {word.strip().lower() for word in private.split(",")}
    return SiteAccess(
        partitions={p.name: p for p in partitions},
        private_jobs="jobs" in words,
        privileged=frozenset({0, slurm_user}),
    )


def partition_visible(partition: PartitionAccess, groups: frozenset[str]) -> bool:
    """Whether a member of ``groups`` (who is neither root nor SlurmUser) sees its jobs."""
    if partition.hidden:
        return False
    return partition.allow_groups is None or not partition.allow_groups.isdisjoint(groups)


def view_of(viewer: Viewer, access: SiteAccess, scope: Scope) -> View:
    """What ``viewer`` may see of ``scope``: ``mine`` is their own jobs, ``all`` what their plain
    squeue shows. A partition the controller did not list is not visible."""
    owner = viewer.uid if scope == "mine" else None
    if viewer.uid in access.privileged:
        return View(None, owner)
    if access.private_jobs:
        owner = viewer.uid
    seen = frozenset(name for name, p in access.partitions.items() if partition_visible(p, viewer.groups))
    return View(seen, owner, frozenset(access.partitions))


def visible_rows(rows: list[JobRow], view: View) -> list[JobRow]:
    """The rows of the listing (``squeue --all``) that ``view`` sees, in their order."""
    owner, seen, known = view.owner, view.partitions, view.known
    out: list[JobRow] = []
    for row in rows:
        if owner is not None and row[_UID] != owner:
            continue
        if base_state(row[_STATE]) == "REVOKED":  # type: ignore[arg-type]
            continue
        if seen is not None:
            partition = row[_PARTITION]
            if partition not in seen:  # else one partition the user sees: the common case
                names = str(partition).split(",")
                if not any(p in seen for p in names) or not all(p in known for p in names):
                    continue
        out.append(row)
    return out
