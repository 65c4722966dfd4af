"""The coalescing cache on a real event loop: one fetch serves every concurrent and repeated read."""

from __future__ import annotations

import asyncio

import pytest

from slurm_lab.cache import CoalescingCache, FetchFailed
from slurm_lab.errors import ControllerUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Source:
    """Counts calls; each call yields once so concurrent readers overlap."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    async def __call__(self) -> int:
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise ControllerUnavailable("down")
        return self.calls


@pytest.mark.asyncio
async def test_concurrent_reads_share_one_fetch() -> None:
    cache: CoalescingCache[str, int] = CoalescingCache(ttl=5)
    src = Source()
    snaps = await asyncio.gather(*(cache.get("k", src) for _ in range(50)))
    assert src.calls == 1 and {s.value for s in snaps} == {1}


@pytest.mark.asyncio
async def test_ttl_and_invalidate() -> None:
    clock, src = Clock(), Source()
    cache: CoalescingCache[str, int] = CoalescingCache(ttl=5, clock=clock)
    assert (await cache.get("k", src)).value == 1
    clock.now = 4.9
    assert (await cache.get("k", src)).value == 1
    clock.now = 5.0
    assert (await cache.get("k", src)).value == 2
    cache.invalidate()
    assert (await cache.get("k", src)).value == 3
    assert cache.fetches == 3


@pytest.mark.asyncio
async def test_failures_are_remembered_and_keep_the_last_good_value() -> None:
    clock, src = Clock(), Source()
    cache: CoalescingCache[str, int] = CoalescingCache(ttl=5, clock=clock)
    await cache.get("k", src)
    clock.now, src.fail = 10, True
    with pytest.raises(FetchFailed) as first:
        await cache.get("k", src)
    assert isinstance(first.value.error, ControllerUnavailable) and first.value.last is not None
    assert first.value.last.value == 1
    with pytest.raises(FetchFailed):
        await cache.get("k", src)  # within ttl of the failure: not asked again
    assert src.calls == 2
    clock.now, src.fail = 15, False
    assert (await cache.get("k", src)).value == 3


@pytest.mark.asyncio
async def test_a_cancelled_reader_does_not_cancel_the_shared_fetch() -> None:
    cache: CoalescingCache[str, int] = CoalescingCache(ttl=5)
    src = Source()
    first = asyncio.ensure_future(cache.get("k", src))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(cache.get("k", src))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second).value == 1 and src.calls == 1


@pytest.mark.asyncio
async def test_in_background_only_the_first_read_waits_and_stale_means_the_refresh_failed() -> None:
    clock, src = Clock(), Source()
    cache: CoalescingCache[str, int] = CoalescingCache(ttl=5, clock=clock, background=True)
    assert (await cache.get("k", src)).value == 1  # the first read waits for the fetch
    clock.now = 6
    reads = await asyncio.gather(*(cache.get("k", src) for _ in range(20)))
    assert {s.value for s in reads} == {1} and src.calls == 2  # answered at once; one refresh
    await cache.settled()
    assert (await cache.get("k", src)).value == 2 and src.calls == 2

    src.fail, clock.now = True, 12
    assert (await cache.get("k", src)).value == 2  # still good as far as anyone knows
    await cache.settled()
    with pytest.raises(FetchFailed) as failed:  # the refresh failed: the last value is stale
        await cache.get("k", src)
    assert failed.value.last is not None and failed.value.last.value == 2 and src.calls == 3
    clock.now = 14
    with pytest.raises(FetchFailed):  # the failure is remembered for its window: no new fetch
        await cache.get("k", src)
    assert src.calls == 3

    src.fail, clock.now = False, 18
    with pytest.raises(FetchFailed):  # stale until a refresh succeeds; this read starts one
        await cache.get("k", src)
    await cache.settled()
    assert (await cache.get("k", src)).value == 4


@pytest.mark.asyncio
async def test_in_background_a_read_after_invalidate_waits_for_our_own_change() -> None:
    clock, src = Clock(), Source()
    cache: CoalescingCache[str, int] = CoalescingCache(ttl=5, clock=clock, background=True)
    await cache.get("k", src)
    cache.invalidate()
    assert (await cache.get("k", src)).value == 2


@pytest.mark.asyncio
async def test_fresh_waits_for_a_due_refresh() -> None:
    clock, src = Clock(), Source()
    cache: CoalescingCache[str, int] = CoalescingCache(ttl=5, clock=clock, background=True)
    await cache.get("k", src)
    assert (await cache.fresh("k", src)).value == 1 and src.calls == 1
    clock.now = 6
    assert (await cache.fresh("k", src)).value == 2
