"""The site cache (python -m slurm_lab.site) on a real cluster of its own, asked over its socket by
real Unix users: each sees what their own squeue shows (a partition only slab-bob's group may
use, a hidden one, PrivateData=jobs), "mine" is theirs, slurmctld lists once per window however
many ask, and a slurm-lab server uses it, or its own squeue when it is not there.

Its own cluster: the test adds partitions and changes PrivateData, which the shared one must not see.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from slurm_lab.devcluster import DevCluster
from tests.helpers import lab_server, rpc_count, slurm_as, stop_process, user_argv, wait_for
from tests.own_cluster import own_cluster

pytestmark = [pytest.mark.cluster, pytest.mark.root]

ALICE, BOB = "slab-alice", "slab-bob"
TTL = 2.0
#: A client as another user: GET target over the socket ``repeat`` times, ``interval`` apart;
#: prints one JSON line per answer (status, ETag, the rows' job ids, names and user ids, or the error).
CLIENT = r"""
import http.client, json, socket, sys, time
path, target, repeat, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(path)
for i in range(repeat):
    conn = Unix("localhost")
    conn.request("GET", target, headers=dict(h.split(": ", 1) for h in sys.argv[5:]))
    r = conn.getresponse()
    body = r.read()
    data = json.loads(body) if body else {}
    rows = data.get("rows")
    print(json.dumps({"status": r.status, "etag": r.getheader("ETag"), "reason": data.get("reason"),
                      "ids": None if rows is None else [row[0] for row in rows],
                      "names": None if rows is None else {row[0]: row[3] for row in rows},
                      "uids": None if rows is None else sorted({row[5] for row in rows})}), flush=True)
    if i + 1 < repeat:
        time.sleep(interval)
"""


@pytest.fixture(scope="module")
def site_cluster() -> Iterator[DevCluster]:
    if os.geteuid() != 0:
        pytest.skip("needs root: the site cache serves other Unix users")
    with own_cluster("devcluster-sitecache", 22817, accounting=False, nodes=2) as cluster:
        yield cluster


def scontrol(cluster: DevCluster, *args: str) -> str:
    return slurm_as(cluster, "root", "scontrol", *args)


@pytest.fixture(scope="module")
def jobs(site_cluster: DevCluster) -> dict[str, str]:
    """Held jobs (they stay as they are): alice's and bob's in debug, bob's in a partition only his
    group may use, in a Hidden one and in "that one,debug". The partitions' names are new each
    run: a job of an earlier run names partitions reconfiguring dropped, whom Slurm shows nobody."""
    secret, hidden = f"secret{secrets.token_hex(3)}", f"hid{secrets.token_hex(3)}"
    scontrol(
        site_cluster, "create", f"PartitionName={secret}", "Nodes=c1", "State=UP", "AllowGroups=slab-bob"
    )
    scontrol(site_cluster, "create", f"PartitionName={hidden}", "Nodes=c1", "State=UP", "Hidden=YES")
    made = {}
    for key, user, partition in (
        ("alice", ALICE, "debug"),
        ("bob", BOB, "debug"),
        ("bob-secret", BOB, secret),
        ("bob-hidden", BOB, hidden),
        ("bob-either", BOB, f"{secret},debug"),
    ):
        out = slurm_as(site_cluster, user, "sbatch", "--parsable", "--hold", f"--partition={partition}",
                       f"--job-name=site-{key}", "--chdir=/tmp", stdin="#!/bin/sh\ntrue\n")  # fmt: skip
        made[key] = out.strip().split(";")[0]
    return made


@pytest.fixture(scope="module")
def socket_path(site_cluster: DevCluster, jobs: dict[str, str]) -> Iterator[str]:
    """The site cache, as root, on a socket in a folder of its own."""
    folder = Path(tempfile.mkdtemp(prefix="slurm-lab-site-"))
    folder.chmod(0o755)
    path = str(folder / "run" / "queue.sock")
    log = folder / "site.log"
    argv = [sys.executable, "-m", "slurm_lab.site", "--socket", path, "--ttl", str(TTL), "--slow-ttl", "2",
            "--slurm-conf", str(site_cluster.layout.conf), "--log-level", "debug"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: os.path.exists(path) or proc.poll() is not None, 30, what="the site cache's socket")
        assert proc.poll() is None, log.read_text()
        yield path
    finally:
        stop_process(proc)  # type: ignore[arg-type]
        text = log.read_text()
        shutil.rmtree(folder, ignore_errors=True)
        assert "Traceback" not in text, text[-3000:]
        assert not os.path.exists(path)


def ask(
    user: str, path: str, target: str, repeat: int = 1, interval: float = 0.0, *headers: str
) -> list[dict]:
    proc = subprocess.run(
        user_argv(user, [sys.executable, "-c", CLIENT, path, target, str(repeat), str(interval), *headers]),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def squeue_ids(cluster: DevCluster, user: str, *extra: str) -> set[str]:
    return set(slurm_as(cluster, user, "squeue", "--noheader", "--states=all", "-o", "%i", *extra).split())


def test_each_user_sees_what_their_own_squeue_shows(
    site_cluster: DevCluster, jobs: dict[str, str], socket_path: str
) -> None:
    uids = {ALICE: 1001, BOB: 1002}
    for user in (ALICE, BOB):
        (everyone,) = ask(user, socket_path, "/jobs?scope=all")
        (mine,) = ask(user, socket_path, "/jobs?scope=mine")
        assert everyone["status"] == mine["status"] == 200
        assert set(everyone["ids"]) == squeue_ids(site_cluster, user), user
        assert set(mine["ids"]) == squeue_ids(site_cluster, user, "--me") and mine["uids"] == [uids[user]]
    (alice,) = ask(ALICE, socket_path, "/jobs?scope=all")
    (bob,) = ask(BOB, socket_path, "/jobs?scope=all")
    assert {jobs["alice"], jobs["bob"], jobs["bob-either"]} <= set(alice["ids"])
    assert jobs["bob-secret"] not in alice["ids"] and jobs["bob-secret"] in bob["ids"]
    assert jobs["bob-hidden"] not in alice["ids"] + bob["ids"]  # Hidden: not even its owner
    (root,) = ask("root", socket_path, "/jobs?scope=all")
    assert set(jobs.values()) <= set(root["ids"])


def test_no_one_can_ask_as_someone_else(socket_path: str) -> None:
    (named,) = ask(ALICE, socket_path, "/jobs?scope=all&user=slab-bob")
    assert (named["status"], named["reason"]) == (400, "invalid_input")
    (alice,) = ask(ALICE, socket_path, "/jobs?scope=mine", 1, 0, "X-Remote-User: slab-bob", "X-User: root")
    assert alice["uids"] == [1001]
    (again,) = ask(ALICE, socket_path, "/jobs?scope=mine", 1, 0, f"If-None-Match: {alice['etag']}")
    assert again["status"] == 304


def test_slurmctld_lists_once_per_window_however_many_ask(site_cluster: DevCluster, socket_path: str) -> None:
    seconds, interval = 8.0, 0.4
    repeat = int(seconds / interval)

    def listings(clients: list[tuple[str, str]]) -> int:
        before = rpc_count(site_cluster, "REQUEST_JOB_INFO")
        users_before = rpc_count(site_cluster, "REQUEST_JOB_USER_INFO")
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(lambda c: ask(c[0], socket_path, c[1], repeat, interval), clients))
        assert all(a["status"] in (200, 304) for each in answers for a in each)
        assert rpc_count(site_cluster, "REQUEST_JOB_USER_INFO") == users_before  # no squeue --me
        return rpc_count(site_cluster, "REQUEST_JOB_INFO") - before

    one = listings([(ALICE, "/jobs?scope=all")])
    many = listings([(u, f"/jobs?scope={s}") for u in (ALICE, BOB, "root") for s in ("all", "mine")])
    windows = seconds / TTL + 2  # each window's listing, plus the process starts' slack
    assert 1 <= one <= windows and 1 <= many <= windows, (one, many)
    assert abs(many - one) <= 2, (one, many)


def test_the_first_answer_after_a_window_shows_what_changed_in_it(
    site_cluster: DevCluster, socket_path: str, jobs: dict[str, str]
) -> None:
    """Servers ask once per push window: the first to ask after a window has passed must get a
    listing made after it, not the one before (which would add a window to every change)."""
    ask(ALICE, socket_path, "/jobs?scope=all")
    name = f"renamed-{secrets.token_hex(3)}"
    scontrol(site_cluster, "update", f"JobId={jobs['alice']}", f"JobName={name}")
    time.sleep(TTL + 0.3)
    answer = ask(BOB, socket_path, "/jobs?scope=all")[0]
    assert answer["status"] == 200 and answer["names"][jobs["alice"]] == name, answer


def test_a_server_lists_through_the_site_and_sees_its_own_submit_at_once(
    site_cluster: DevCluster, socket_path: str
) -> None:
    everyone, own = squeue_ids(site_cluster, ALICE), squeue_ids(site_cluster, ALICE, "--me")
    config = f"c.SlurmLab.site_cache = {socket_path!r}\n"
    with lab_server(site_cluster, ALICE, extra_config=config) as server, server.client() as api:
        before = rpc_count(site_cluster, "REQUEST_JOB_USER_INFO")
        table = api.get("jobs", params={"scope": "all", "format": "table"}).json()
        assert {r[0] for r in table["rows"]} == everyone
        mine = api.get("jobs", params={"scope": "mine"}).json()["jobs"]
        assert {j["job_id"] for j in mine} == own
        r = api.post(
            "jobs", json={"script": "#!/bin/sh\ntrue\n", "options": {"hold": True, "job_name": "via-site"}}
        )
        assert r.status_code == 201, r.text
        job_id = r.json()["job_id"]
        # The listing right after the submit shows it: the site lists again for a change.
        assert job_id in {j["job_id"] for j in api.get("jobs").json()["jobs"]}
        assert rpc_count(site_cluster, "REQUEST_JOB_USER_INFO") == before  # no squeue --me of its own
        assert "site cache" not in server.log_text()
        api.delete(f"jobs/{job_id}")


def test_a_server_with_a_dead_site_socket_lists_with_its_own_squeue(site_cluster: DevCluster) -> None:
    config = 'c.SlurmLab.site_cache = "/run/slurm-lab-absent/queue.sock"\n'
    with lab_server(site_cluster, ALICE, ttl=0.5, extra_config=config) as server, server.client() as api:
        for _ in range(3):
            r = api.get("jobs", params={"scope": "mine"})
            assert r.status_code == 200, r.text
            assert {j["job_id"] for j in r.json()["jobs"]} == squeue_ids(site_cluster, ALICE, "--me")
            time.sleep(0.6)
        log = server.log_text()
        assert log.count("the site cache at /run/slurm-lab-absent/queue.sock cannot be reached") == 1, log
        assert "Traceback" not in log


def test_private_data_shows_each_user_only_their_own_jobs(site_cluster: DevCluster, socket_path: str) -> None:
    """Last: reconfiguring drops the partitions the test made."""
    conf = site_cluster.layout.conf
    original = conf.read_text()
    try:
        conf.write_text(original + "PrivateData=jobs\n")
        scontrol(site_cluster, "reconfigure")
        for user, uid in ((ALICE, 1001), (BOB, 1002)):
            own = squeue_ids(site_cluster, user)
            assert own == squeue_ids(site_cluster, user, "--me")  # Slurm hides the others' now

            def settled(user: str = user, own: set[str] = own) -> dict | None:
                (answer,) = ask(user, socket_path, "/jobs?scope=all")
                return answer if set(answer["ids"]) == own else None

            answer = wait_for(settled, 20, what=f"the site cache to apply PrivateData for {user}")
            assert answer["uids"] in ([uid], [])
    finally:
        conf.write_text(original)
        scontrol(site_cluster, "reconfigure")
