"""The site cache's server and its client over a real Unix socket in this process; only the Slurm
commands are canned (the queue captured from the dev cluster, tests/fixtures/squeue_all.txt).
What other users see is the integration test's (tests/integration/test_site_cache.py): here the
peer is this process, root or SlurmUser, who sees everything."""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import orjson
import pytest
import pytest_asyncio

from slurm_lab.errors import ControllerUnavailable
from slurm_lab.guard import ControllerGuard
from slurm_lab.hosts.base import Host
from slurm_lab.models import JOB_FIELDS, QueueTable
from slurm_lab.queue import QueueView
from slurm_lab.runner import CommandResult
from slurm_lab.schedulers.cli import CliScheduler
from slurm_lab.site.policy import Viewer
from slurm_lab.site.server import SiteQueue, check_folder, listen
from slurm_lab.site_client import SiteCache
from slurm_lab.slurm import parsers
from tests.conftest import fixture_text
from tests.inprocess.fake import FakeScheduler

ME = os.geteuid()
CAPTURED = fixture_text("squeue_all.txt")  # captured with the nonce "TESTNONCE"


class CannedHost(Host):
    """Answers squeue --all with the captured queue and scontrol with the partitions captured on
    the dev cluster and a config naming this process's user as SlurmUser."""

    name = "local"

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.queue = CAPTURED
        self.delay = 0.0
        self.down = False

    @property
    def user(self) -> str:
        return pwd.getpwuid(ME).pw_name

    async def run_slurm(
        self, argv: Sequence[str], stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        key = " ".join(a for a in argv[:3] if not a.startswith("--"))
        self.calls[key] += 1
        await asyncio.sleep(self.delay)
        if self.down and argv[0] == "squeue":
            return CommandResult(tuple(argv), 1, "", "squeue: error: Unable to contact slurm controller", 0.0)
        if argv[0] == "squeue":
            assert "--all" in argv and "--me" not in argv
            nonce = next(a for a in argv if a.startswith("--Format=")).rsplit("\x1e", 1)[1]
            out = self.queue.replace("TESTNONCE", nonce)
        elif argv[:3] == ["scontrol", "--all", "show"]:
            out = fixture_text("scontrol_show_partition_access.txt")
        elif argv[:3] == ["scontrol", "show", "config"]:
            out = f"PrivateData             = none\nSlurmUser               = {self.user}({ME})\n"
        elif argv[:2] == ["scontrol", "ping"]:
            out = "Slurmctld(primary) at vm is " + ("DOWN" if self.down else "UP") + "\n"
        else:
            raise AssertionError(f"unexpected command {argv}")
        return CommandResult(tuple(argv), 0, out, "", 0.0)


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[SiteQueue, CannedHost, str]]:
    host = CannedHost()
    queue = SiteQueue(CliScheduler(host), ttl=30.0, slow_ttl=60.0, min_gap=0.2)
    folder = tmp_path / "run"
    socket_path = str(folder / "queue.sock")
    server = listen(queue, socket_path)
    yield queue, host, socket_path
    server.stop()
    await queue.settled()


def client(path: str, **kwargs: object) -> SiteCache:
    async def trusted() -> frozenset[int]:
        return frozenset({0, ME})

    options: dict[str, object] = {"trusted": trusted, "max_bytes": 1 << 20, "wait_timeout": 5.0, **kwargs}
    return SiteCache(path, **options)  # type: ignore[arg-type]


async def get(
    path: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return await client(path)._get(target, headers or {})


@pytest.mark.asyncio
async def test_one_listing_serves_every_request_with_slurm_labs_own_table_body(site: tuple) -> None:
    _, host, path = site
    answers = await asyncio.gather(*(get(path, "/jobs?scope=all") for _ in range(20)))
    assert host.calls["squeue"] == 1 and host.calls["scontrol show"] == 1
    status, headers, body = answers[0]
    assert status == 200 and headers["content-type"] == "application/json"
    data = orjson.loads(body)
    assert set(data) == {"format", "fields", "rows", "explanations", "fetched_at", "stale"}
    assert data["format"] == "table" and data["fields"] == list(JOB_FIELDS) and data["stale"] is False
    assert [tuple(r) for r in data["rows"]] == parsers.parse_queue_rows(CAPTURED, "TESTNONCE")
    assert "JobHeldUser" in data["explanations"]
    assert {a[1]["etag"] for a in answers} == {headers["etag"]}
    # Revalidation: 304, no body; "mine" is this process's own jobs (none in the captured queue).
    status, _, body = await get(path, "/jobs?scope=all", {"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")
    status, mine_headers, body = await get(path, "/jobs?scope=mine")
    assert status == 200 and orjson.loads(body)["rows"] == [] and mine_headers["etag"] != headers["etag"]
    assert host.calls["squeue"] == 1


@pytest.mark.asyncio
async def test_only_known_parameters_and_no_user_can_be_named(site: tuple) -> None:
    path = site[2]
    for target in ["/jobs?user=slab-bob", "/jobs?scope=all&scope=mine", "/jobs?scope=everyone",
                   "/jobs?since=yesterday", "/jobs?since=1e9", "/jobs?uid=0"]:  # fmt: skip
        status, _, body = await get(path, target)
        assert status == 400 and orjson.loads(body)["reason"] == "invalid_input", target
    status, _, body = await get(path, "/jobs?scope=all", {"X-Remote-User": "slab-bob", "X-User": "root"})
    assert status == 200  # headers name nobody: the kernel says who asks
    status, _, body = await get(path, "/elsewhere")
    assert status == 404 and orjson.loads(body) == {
        "message": "the site cache serves GET /jobs only",
        "reason": "not_found",
    }
    assert b"Traceback" not in body


@pytest.mark.asyncio
async def test_bodies_are_encoded_once_per_view_and_dropped_with_their_listing(site: tuple) -> None:
    queue, host, _ = site
    groups = {1001: frozenset({"slab-alice"}), 1002: frozenset({"slab-bob"}), 2001: frozenset({"slab-alice"})}
    queue._viewer = lambda uid: Viewer(uid, groups[uid])
    queue._viewers.invalidate()
    queue._access.invalidate()
    await queue.access()
    # PrivateData off in the canned config: alice and a user with her groups share one body.
    alice = await queue.render(1001, "all", None)
    same = await queue.render(2001, "all", None)
    assert alice.encoded is same.encoded
    bob = await queue.render(1002, "all", None)
    assert bob.encoded is not alice.encoded  # bob sees the AllowGroups=slab-bob partition
    mine = await queue.render(1001, "mine", None)
    rows = orjson.loads(mine.body())["rows"]
    assert rows and {r[JOB_FIELDS.index("user_id")] for r in rows} == {1001}
    assert len(queue._bodies) == 3
    host.queue = CAPTURED.replace("JobHeldUser", "JobHeldAdmin")
    queue.queue.invalidate()
    await queue.queue.fresh("all")
    again = await queue.render(1001, "all", None)
    assert again.encoded is not alice.encoded and again.etag != alice.etag and len(queue._bodies) == 1


@pytest.mark.asyncio
async def test_a_listing_begun_after_a_change_is_shared_by_every_waiter(site: tuple) -> None:
    _, host, path = site
    await get(path, "/jobs?scope=all")
    assert host.calls["squeue"] == 1
    host.delay = 0.05
    since = f"{time.time():.6f}"
    answers = await asyncio.gather(*(get(path, f"/jobs?scope=all&since={since}") for _ in range(10)))
    assert {a[0] for a in answers} == {200} and host.calls["squeue"] == 2
    # A later change: one more listing, no sooner than min_gap after the last one.
    started = time.monotonic()
    status, _, _ = await get(path, f"/jobs?scope=mine&since={time.time():.6f}")
    assert status == 200 and host.calls["squeue"] == 3 and time.monotonic() - started >= 0.1
    # Asking with an old time needs no new listing.
    await get(path, f"/jobs?scope=all&since={float(since) - 100:.6f}")
    assert host.calls["squeue"] == 3


@pytest.mark.asyncio
async def test_a_listing_past_its_window_is_renewed_before_it_is_served(site: tuple) -> None:
    """Servers ask once per push window: each must get that window's queue, not the one before."""
    queue, host, path = site
    queue.queue.cache.ttl = 0.2
    _, _, body = await get(path, "/jobs?scope=all")
    assert b"JobHeldAdmin" not in body and host.calls["squeue"] == 1
    host.queue = CAPTURED.replace("JobHeldUser", "JobHeldAdmin")
    await asyncio.sleep(0.25)
    host.delay = 0.05
    answers = await asyncio.gather(*(get(path, "/jobs?scope=all") for _ in range(10)))
    assert all(status == 200 and b"JobHeldAdmin" in body for status, _, body in answers)
    assert host.calls["squeue"] == 2  # one new listing for all ten


@pytest.mark.asyncio
async def test_client_waits_as_long_as_the_site_usually_takes_and_no_longer(site: tuple) -> None:
    queue, host, path = site
    await queue.access()  # read once per slow window: not part of these answers
    cache = client(path, timeout=0.5, wait_timeout=5.0)
    host.delay = 0.4
    first = await cache.queue_table("all", None)
    assert first is not None and cache._limit(None) >= 0.5 + 2 * 0.4
    assert cache._limit(time.time()) == 5.0  # after our change the site lists first: a Slurm call's
    # A site slower than the base limit, as its recent answers said it is, is still waited for.
    host.delay = 0.7
    queue.queue.invalidate()
    assert await cache.queue_table("all", first) is not None
    # A hung one is left long before a Slurm call's timeout.
    host.delay = 3.0
    queue.queue.invalidate()
    started = time.monotonic()
    assert await cache.queue_table("all", first) is None
    assert cache._failing and time.monotonic() - started < 5.0
    host.delay = 0.0


@pytest.mark.asyncio
async def test_slurms_failure_is_relayed_and_the_last_listing_served_stale(site: tuple) -> None:
    queue, host, path = site
    host.down = True
    status, _, body = await get(path, "/jobs?scope=all")
    assert status == 503 and orjson.loads(body)["reason"] == "controller_unavailable"
    with pytest.raises(ControllerUnavailable):  # Slurm's condition: no use listing ourselves
        await client(path).queue_table("all", None)
    host.down = False
    queue.queue.invalidate()
    status, _, _ = await get(path, "/jobs?scope=all")
    assert status == 200
    host.down = True
    queue.queue.invalidate()
    status, headers, body = await get(path, "/jobs?scope=all")
    data = orjson.loads(body)
    assert status == 503 and data["stale"] is True and data["rows"] and "etag" not in headers


@pytest.mark.asyncio
async def test_client_turns_answers_into_tables_and_304s_into_the_previous_one(site: tuple) -> None:
    _, host, path = site
    cache = client(path)
    first = await cache.queue_table("all", None)
    assert first is not None and first.rows == parsers.parse_queue_rows(CAPTURED, "TESTNONCE")
    assert await cache.queue_table("all", first) is first  # 304: nothing parsed
    other = QueueTable(first.rows, b"own squeue")
    fresh = await cache.queue_table("all", other)  # not the site's table: no If-None-Match
    assert fresh is not None and fresh is not first and fresh.digest == first.digest
    cache.changed()
    host.delay = 0.02
    after = await cache.queue_table("mine", None)
    assert after is not None and host.calls["squeue"] == 2 and "mine" not in cache._changed
    assert cache.answers == 4


@pytest.mark.asyncio
async def test_client_falls_back_once_logged_and_backs_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    cache = client(str(tmp_path / "absent.sock"), clock=lambda: now[0], backoff=30.0)
    with caplog.at_level(logging.DEBUG, "slurm_lab.site_client"):
        assert await cache.queue_table("all", None) is None
        assert await cache.queue_table("all", None) is None  # backing off: not even tried
        now[0] = 31.0
        assert await cache.queue_table("mine", None) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        len(warnings) == 1
        and "absent.sock cannot be reached (No such file or directory)" in warnings[0].message
    )
    assert "squeue" in warnings[0].message and not any(r.exc_info for r in caplog.records)


async def serve_bytes(path: str, answer: bytes | None) -> asyncio.AbstractServer:
    """A socket that answers ``answer`` to anything (None: never answers)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if answer is None:
            await asyncio.sleep(3600)
        writer.write(answer)
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(handle, path)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "answer",
    [
        b"hello\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",  # no ETag
        b'HTTP/1.1 200 OK\r\nETag: "0011223344556677"\r\nContent-Length: 5\r\n\r\nhello',
        b'HTTP/1.1 200 OK\r\nETag: "0011223344556677"\r\nContent-Length: 999999999\r\n\r\n',  # too big
        b'HTTP/1.1 200 OK\r\nETag: "0011223344556677"\r\nContent-Length: 10\r\n\r\nshort',
        b'HTTP/1.1 200 OK\r\nETag: "0011223344556677"\r\nTransfer-Encoding: chunked\r\n\r\n',
        b"HTTP/1.1 304 Not Modified\r\n\r\n",  # a 304 to a request that named no ETag
        b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}",
        b'HTTP/1.1 503 x\r\nContent-Length: 45\r\n\r\n{"message": "x", "reason": "invalid_input"}  ',
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 100 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"y" * 100_000 + b"\r\n\r\n",
        None,  # never answers
    ],
)
async def test_client_reads_no_garbage(tmp_path: Path, answer: bytes | None) -> None:
    path = str(tmp_path / "odd.sock")
    server = await serve_bytes(path, answer)
    try:
        cache = client(path, timeout=0.3)
        assert await cache.queue_table("all", None) is None
        assert cache._failing and cache.answers == 0
    finally:
        server.close()


@pytest.mark.asyncio
async def test_client_believes_only_root_or_slurm_user(site: tuple, caplog: pytest.LogCaptureFixture) -> None:
    _, _, path = site

    async def someone_else() -> frozenset[int]:
        return frozenset({4242})

    cache = SiteCache(path, trusted=someone_else, max_bytes=1 << 20, wait_timeout=5.0)
    with caplog.at_level(logging.WARNING, "slurm_lab.site_client"):
        assert await cache.queue_table("all", None) is None
    assert f"is served by uid {ME}, which is neither root nor SlurmUser" in caplog.text


@pytest.mark.asyncio
async def test_queue_view_lists_through_the_site_and_with_its_own_squeue_without_it(site: tuple) -> None:
    _, host, path = site
    scheduler = FakeScheduler()
    view = QueueView(scheduler, ControllerGuard(scheduler), 30.0, client(path))
    listed = await view.snapshot("all")
    assert listed.value.rows == parsers.parse_queue_rows(CAPTURED, "TESTNONCE")
    assert host.calls["squeue"] == 1 and scheduler.calls["list_jobs"] == 0
    dead = QueueView(scheduler, ControllerGuard(scheduler), 30.0, client(path + ".gone"))
    assert (await dead.snapshot("mine")).value.jobs and scheduler.calls["list_jobs"] == 1


def test_the_socket_folder_must_be_the_owners_alone(tmp_path: Path) -> None:
    made = tmp_path / "new" / "queue.sock"
    check_folder(str(made))
    assert (made.parent.stat().st_mode & 0o777) == 0o755
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(Exception, match="writable by others"):
        check_folder(str(shared / "queue.sock"))
