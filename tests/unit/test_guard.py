"""ControllerGuard: a slow read is cut short only when the probe says Slurm cannot answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from slurm_lab.errors import AccountingUnavailable, ControllerUnavailable
from slurm_lab.guard import ControllerGuard


class Pinger:
    """Just enough of a backend for the guard: ``probe`` answers what the test says."""

    def __init__(self, up: bool) -> None:
        self.up = up
        self.pings = 0

    async def probe(self) -> ControllerUnavailable | None:
        self.pings += 1
        return None if self.up else ControllerUnavailable("down")


async def slow(seconds: float, value: Any = "done") -> Any:
    await asyncio.sleep(seconds)
    return value


@pytest.mark.asyncio
async def test_fast_reads_never_ping() -> None:
    backend = Pinger(up=False)
    guard = ControllerGuard(backend, probe_after=0.05)  # type: ignore[arg-type]
    assert await guard.run(lambda: slow(0.0)) == "done"
    assert backend.pings == 0


@pytest.mark.asyncio
async def test_slow_read_waits_while_the_controller_answers_pings() -> None:
    backend = Pinger(up=True)
    guard = ControllerGuard(backend, probe_after=0.05)  # type: ignore[arg-type]
    assert await guard.run(lambda: slow(0.15)) == "done"
    assert backend.pings == 1


@pytest.mark.asyncio
async def test_slow_read_is_cut_short_when_down_and_later_reads_fail_at_once() -> None:
    backend = Pinger(up=False)
    guard = ControllerGuard(backend, probe_after=0.05)  # type: ignore[arg-type]
    started = asyncio.get_running_loop().time()
    with pytest.raises(ControllerUnavailable):
        await guard.run(lambda: slow(30))
    assert asyncio.get_running_loop().time() - started < 1
    with pytest.raises(ControllerUnavailable):
        await guard.run(lambda: slow(0.0))  # known down: the ping decides, nothing runs
    backend.up = True
    assert await guard.run(lambda: slow(0.0)) == "done"
    assert not guard.down


@pytest.mark.asyncio
async def test_changes_run_to_the_end() -> None:
    backend = Pinger(up=False)
    guard = ControllerGuard(backend, probe_after=0.01)  # type: ignore[arg-type]
    assert await guard.run_to_end(lambda: slow(0.1, "submitted")) == "submitted"
    assert backend.pings == 0


@pytest.mark.asyncio
async def test_accounting_down_does_not_mark_the_controller_down() -> None:
    """slurmdbd stopped: sacct fails at once, but squeue and the rest must not pay for it."""
    backend = Pinger(up=True)
    guard = ControllerGuard(backend, probe_after=0.05)  # type: ignore[arg-type]

    async def sacct() -> None:
        raise AccountingUnavailable("Slurm accounting (slurmdbd) unavailable: Connection refused")

    with pytest.raises(AccountingUnavailable):
        await guard.run(sacct)
    assert not guard.down
    assert await guard.run(lambda: slow(0.0)) == "done"
    assert backend.pings == 0  # the next read runs without a probe first
