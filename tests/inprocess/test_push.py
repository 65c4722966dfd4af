"""The queue pushed over ``jobs/events`` (a WebSocket) and ``GET jobs?format=table``, through the
real handler, service, feed, queue and caches; only the scheduler is fake."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from slurm_lab.errors import ControllerUnavailable
from slurm_lab.models import JOB_FIELDS
from slurm_lab.service import SlurmLabService

from .fake import FakeScheduler
from .support import CACHE_TTL, RETRY_AFTER, Api

EVENTS = ("slurm-lab", "api", "jobs", "events")


async def receive(ws: WebSocketClientConnection, within: float = CACHE_TTL * 3 + 0.5) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.read_message(), within)
    assert isinstance(message, str)
    return orjson.loads(message)  # type: ignore[no-any-return]


async def silent(ws: WebSocketClientConnection, seconds: float) -> bool:
    try:
        await asyncio.wait_for(ws.read_message(), seconds)
    except asyncio.TimeoutError:
        return True
    return False


async def test_table_format_is_the_object_listing_as_rows(api: Api) -> None:
    objects = await api("GET", "jobs", params={"scope": "all"})
    table = await api("GET", "jobs", params={"scope": "all", "format": "table"})
    assert table.code == 200 and table.json["format"] == "table"
    assert table.json["fields"] == list(JOB_FIELDS)
    assert [dict(zip(table.json["fields"], row, strict=True)) for row in table.json["rows"]] == objects.json[
        "jobs"
    ]
    assert table.json["explanations"] == objects.json["explanations"]
    assert table.headers["ETag"] != objects.headers["ETag"]  # another body, another tag
    assert len(table.body) < len(objects.body)
    bad = await api("GET", "jobs", params={"format": "csv"})
    assert bad.code == 400 and bad.json["field"] == "format"


async def test_a_tab_gets_the_listing_then_only_what_changed(
    jp_ws_fetch: Any, api: Api, fake: FakeScheduler, service: SlurmLabService
) -> None:
    ws = await jp_ws_fetch(*EVENTS)
    await ws.write_message(orjson.dumps({"subscribe": "all"}).decode())
    snapshot = await receive(ws)
    listed = (await api("GET", "jobs", params={"scope": "all", "format": "table"})).json
    assert snapshot["type"] == "snapshot" and snapshot["scope"] == "all"
    assert snapshot["fields"] == listed["fields"] and snapshot["rows"] == listed["rows"]
    assert snapshot["stale"] is False

    # Nothing changed: nothing is sent, however many windows pass.
    assert await silent(ws, CACHE_TTL * 3)

    fake.set_state("17", "RUNNING", None)
    delta = await receive(ws)
    assert delta["type"] == "delta" and delta["base"] == snapshot["version"]
    assert [row[0] for row in delta["upsert"]] == ["17"] and delta["remove"] == []
    assert delta["upsert"][0][JOB_FIELDS.index("state")] == "RUNNING"
    assert len(orjson.dumps(delta)) < 2048

    fake.jobs = [j for j in fake.jobs if j.job_id != "2"]  # gone from the controller
    gone = await receive(ws)
    assert gone["base"] == delta["version"] and gone["upsert"] == [] and gone["remove"] == ["2"]
    ws.close()
    await asyncio.sleep(CACHE_TTL * 2)
    assert not any(c.subscribers for c in service.feed._channels.values())


async def test_two_tabs_share_one_refresh_per_window(jp_ws_fetch: Any, fake: FakeScheduler) -> None:
    tabs = [await jp_ws_fetch(*EVENTS) for _ in range(2)]
    for ws in tabs:
        await ws.write_message('{"subscribe": "all"}')
        assert (await receive(ws))["type"] == "snapshot"
    before = fake.calls["list_jobs"]
    await asyncio.sleep(CACHE_TTL * 4)
    assert fake.calls["list_jobs"] - before <= 5  # one per window, not one per tab


async def test_a_failed_refresh_is_said_once_then_the_listing_again(
    jp_ws_fetch: Any, fake: FakeScheduler
) -> None:
    ws = await jp_ws_fetch(*EVENTS)
    await ws.write_message('{"subscribe": "mine"}')
    first = await receive(ws)
    assert {row[JOB_FIELDS.index("user")] for row in first["rows"]} == {"slab-alice"}
    fake.fail_next("list_jobs", ControllerUnavailable("Slurm controller unavailable: down"), times=3)
    error = await receive(ws)
    assert error == {
        "type": "error",
        "scope": "mine",
        "message": "Slurm controller unavailable: down",
        "reason": "controller_unavailable",
        "retry_after": RETRY_AFTER,
    }
    again = await receive(ws, within=CACHE_TTL * 8 + 1)
    assert again["type"] == "snapshot" and again["rows"] == first["rows"] and again["stale"] is False


async def test_a_bad_message_is_answered_not_obeyed(jp_ws_fetch: Any) -> None:
    ws = await jp_ws_fetch(*EVENTS)
    for bad in ("nope", '{"subscribe": "everyone"}', '{"subscribe": "all", "as": "root"}'):
        await ws.write_message(bad)
        answer = await receive(ws, within=2)
        assert answer["type"] == "error" and answer["reason"] == "invalid_input"
    assert await silent(ws, CACHE_TTL * 2)  # and nothing was subscribed


async def test_the_socket_needs_the_token(jp_ws_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch(*EVENTS, headers={"Authorization": "token not-the-token"})
    assert refused.value.code == 403
