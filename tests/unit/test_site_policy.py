"""The site cache's visibility rules (slurm_lab/site/policy.py) and what feeds them: the parsers on
output captured from the real dev cluster (Slurm 22.05.8; a partition with AllowGroups, a Hidden
one, PrivateData=jobs,usage), the argv, and the client's reading of the site's body."""

from __future__ import annotations

import orjson
import pytest

from slurm_lab.models import JOB_FIELDS, JobRow, PartitionAccess
from slurm_lab.site.policy import SiteAccess, View, Viewer, site_access, view_of, visible_rows
from slurm_lab.site_client import table_of
from slurm_lab.slurm import argv, parsers
from tests.conftest import fixture_text

ALICE, BOB, SLURM = 1001, 1002, 64030


def captured_access() -> SiteAccess:
    config = parsers.parse_config(fixture_text("scontrol_show_config_private.txt"))
    return site_access(
        config, parsers.parse_partition_access(fixture_text("scontrol_show_partition_access.txt"))
    )


def row(job_id: str, uid: int, partition: str, state: str = "PENDING") -> JobRow:
    values: dict[str, object] = dict.fromkeys(JOB_FIELDS)
    values.update(job_id=job_id, user_id=uid, partition=partition, state=state, name="x", user=f"u{uid}")
    return tuple(values[name] for name in JOB_FIELDS)  # type: ignore[misc]


def public(access: SiteAccess) -> SiteAccess:
    return SiteAccess(access.partitions, False, access.privileged)


def test_partition_access_from_captured_scontrol() -> None:
    parts = {
        p.name: p for p in parsers.parse_partition_access(fixture_text("scontrol_show_partition_access.txt"))
    }
    assert list(parts) == ["debug", "long", "gpu", "secret", "hid"]
    assert parts["debug"] == PartitionAccess("debug", False, None)  # AllowGroups=ALL
    assert parts["secret"] == PartitionAccess("secret", False, frozenset({"slab-bob", "physics"}))
    assert parts["hid"] == PartitionAccess("hid", True, None)


def test_partition_access_refuses_lines_it_cannot_read() -> None:
    with pytest.raises(ValueError):
        parsers.parse_partition_access("PartitionName=x AllowGroups=ALL State=UP\n")  # no Hidden
    with pytest.raises(ValueError):
        parsers.parse_partition_access("PartitionName=x Hidden=maybe AllowGroups=ALL\n")
    assert parsers.parse_partition_access("") == []


def test_private_data_and_slurm_user_from_captured_config() -> None:
    access = captured_access()
    assert access.private_jobs and access.privileged == {0, SLURM}
    off = site_access({"PrivateData": "none", "SlurmUser": "slurm(64030)"}, [])
    assert not off.private_jobs
    assert site_access({"PrivateData": "usage,Jobs", "SlurmUser": "root(0)"}, []).private_jobs
    for missing in (
        {"SlurmUser": "slurm(64030)"},
        {"PrivateData": "none"},
        {"PrivateData": "none", "SlurmUser": "x"},
    ):
        with pytest.raises(ValueError):
            site_access(missing, [])


def test_argv() -> None:
    assert "--all" not in argv.squeue("all", "n")
    every = argv.squeue("all", "n", every_partition=True)
    assert every[:3] == ["squeue", "--noheader", "--states=all"] and "--all" in every and "--me" not in every
    assert argv.scontrol_show_partitions() == ["scontrol", "--all", "show", "partition", "--oneliner"]


def test_each_user_sees_what_their_own_squeue_shows() -> None:
    """As the dev cluster showed: Hidden hides from everyone (owners too), AllowGroups from
    non-members, a multi-partition job is seen when one of its partitions is."""
    access = public(captured_access())
    rows = [
        row("1", ALICE, "debug"),
        row("2", BOB, "debug"),
        row("3", BOB, "secret"),
        row("4", BOB, "hid"),
        row("5", BOB, "secret,debug"),
        row("6", BOB, "gone,debug"),  # a partition deleted since: slurmctld shows this to nobody
        row("7", BOB, "debug", "REVOKED"),
    ]
    alice = view_of(Viewer(ALICE, frozenset({"slab-alice"})), access, "all")
    bob = view_of(Viewer(BOB, frozenset({"slab-bob"})), access, "all")
    ids = lambda view: [r[0] for r in visible_rows(rows, view)]  # noqa: E731
    assert ids(alice) == ["1", "2", "5"]
    assert ids(bob) == ["1", "2", "3", "5"]
    assert ids(view_of(Viewer(BOB, frozenset({"slab-bob"})), access, "mine")) == ["2", "3", "5"]
    assert ids(view_of(Viewer(ALICE, frozenset({"physics"})), access, "all")) == ["1", "2", "3", "5"]
    for privileged in (0, SLURM):
        everything = view_of(Viewer(privileged, frozenset()), access, "all")
        assert everything == View(None, None) and ids(everything) == ["1", "2", "3", "4", "5", "6"]
    assert ids(view_of(Viewer(0, frozenset()), access, "mine")) == []


def test_private_data_shows_only_ones_own_jobs() -> None:
    access = captured_access()
    rows = [row("1", ALICE, "debug"), row("2", BOB, "debug"), row("3", BOB, "hid")]
    alice = view_of(Viewer(ALICE, frozenset({"slab-alice"})), access, "all")
    assert alice.owner == ALICE and [r[0] for r in visible_rows(rows, alice)] == ["1"]
    # Operators and coordinators see more in Slurm; here, their own (less, never more).
    assert view_of(Viewer(ALICE, frozenset({"slab-alice"})), access, "mine") == alice
    assert [r[0] for r in visible_rows(rows, view_of(Viewer(SLURM, frozenset()), access, "all"))] == [
        "1",
        "2",
        "3",
    ]


def test_users_with_the_same_groups_share_a_view_and_a_unknown_partition_is_not_seen() -> None:
    access = public(captured_access())
    one = view_of(Viewer(2001, frozenset({"staff"})), access, "all")
    other = view_of(Viewer(2002, frozenset({"staff"})), access, "all")
    assert one == other and hash(one) == hash(other)  # one encoded body for both
    assert view_of(Viewer(2001, frozenset({"staff"})), access, "mine") != view_of(
        Viewer(2002, frozenset({"staff"})), access, "mine"
    )
    assert visible_rows([row("9", 2001, "new")], one) == []  # created after the last read: wait


def test_client_reads_the_sites_table_body() -> None:
    r = row("1", ALICE, "debug")
    body = orjson.dumps({"format": "table", "fields": JOB_FIELDS, "rows": [r], "explanations": {}})
    table = table_of(body, '"' + "ab" * 16 + '"')
    assert table.rows == [r] and isinstance(table.rows[0], tuple) and table.digest == bytes.fromhex("ab" * 16)
    assert table.jobs[0].job_id == "1"
    bad_bodies = [
        b"not json",
        b"[]",
        orjson.dumps({"format": "objects", "jobs": []}),
        orjson.dumps({"format": "table", "fields": JOB_FIELDS[:-1], "rows": []}),
        orjson.dumps({"format": "table", "fields": JOB_FIELDS, "rows": [list(r)[:-1]]}),
        orjson.dumps({"format": "table", "fields": JOB_FIELDS, "rows": [[1, *list(r)[1:]]]}),
        orjson.dumps({"format": "table", "fields": JOB_FIELDS, "rows": [[*list(r)[:-1], {"x": 1}]]}),
        orjson.dumps({"format": "table", "fields": JOB_FIELDS, "rows": [[*list(r)[:-1], True]]}),
        orjson.dumps({"format": "table", "fields": JOB_FIELDS, "rows": {}}),
    ]
    for bad in bad_bodies:
        with pytest.raises(ValueError):
            table_of(bad, '"' + "ab" * 16 + '"')
