"""Fail fast while Slurm cannot answer instead of waiting out the CLIs' timeouts and retries.

A frozen slurmctld holds every CLI for MessageTimeout (10 s); a stopped munged costs 2 s of
retries per call. A command still running after ``probe_after`` seconds triggers the scheduler's
probe (munge's socket, then ``scontrol ping`` with a 1 s deadline), so a request answers within
about 1.5 s with the typed error and, for listings, the last good data marked stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .errors import BackendUnavailable, ControllerUnavailable
from .schedulers import Scheduler

T = TypeVar("T")

#: Seconds a Slurm command may take before the probe checks that Slurm can answer at all.
PROBE_AFTER = 0.5


class ControllerGuard:
    """Runs Slurm commands; a quick probe decides whether a slow or retried one is worth waiting for."""

    def __init__(self, scheduler: Scheduler, probe_after: float = PROBE_AFTER) -> None:
        self.scheduler = scheduler
        self.probe_after = probe_after
        self.down = False

    async def _check(self) -> None:
        problem = await self.scheduler.probe()
        if problem is not None:
            self.down = True
            raise problem

    async def run(self, fetch: Callable[[], Awaitable[T]], usual: float = 0.0) -> T:
        """Run a read or an idempotent change; give up as soon as the probe says Slurm cannot answer.

        ``usual`` is how long this call took last time: a call that always takes longer than
        ``probe_after`` (squeue of 100,000 jobs) is probed only once it takes twice its usual.
        """
        if self.down:
            await self._check()
        task = asyncio.ensure_future(fetch())
        try:
            done, _ = await asyncio.wait({task}, timeout=max(self.probe_after, 2 * usual))
            if not done:
                await self._check()
            result = await task
        except (ControllerUnavailable, BackendUnavailable):
            self.down = True
            raise
        finally:
            task.cancel()  # a no-op once finished; else kills the waiting command
        self.down = False
        return result

    async def run_to_end(self, change: Callable[[], Awaitable[T]]) -> T:
        """Run a change that must never be cut short (a submit); fail at once only if known down."""
        if self.down:
            await self._check()
        return await change()
