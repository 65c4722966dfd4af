"""Fail fast while slurmctld is down instead of waiting out the CLIs' 9-18 s of retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .backends import SlurmBackend
from .errors import ControllerUnavailable

T = TypeVar("T")

#: Seconds a Slurm read may take before a ping checks that the controller is alive.
PROBE_AFTER = 1.0
DOWN_MESSAGE = "Slurm controller unavailable (scontrol ping: not responding)"


class ControllerGuard:
    """Runs Slurm commands; a cheap ``ping`` decides whether a slow or retried one is worth waiting for."""

    def __init__(self, backend: SlurmBackend, probe_after: float = PROBE_AFTER) -> None:
        self.backend = backend
        self.probe_after = probe_after
        self.down = False

    async def run(self, fetch: Callable[[], Awaitable[T]]) -> T:
        """Run a read or an idempotent change; give up at once when a ping says the controller is down."""
        if self.down and not await self.backend.ping():
            raise ControllerUnavailable(DOWN_MESSAGE)
        task = asyncio.ensure_future(fetch())
        try:
            done, _ = await asyncio.wait({task}, timeout=self.probe_after)
            if not done and not await self.backend.ping():
                raise ControllerUnavailable(DOWN_MESSAGE)
            result = await task
        except ControllerUnavailable:
            self.down = True
            raise
        finally:
            task.cancel()  # a no-op once finished; else kills the waiting command
        self.down = False
        return result

    async def run_to_end(self, change: Callable[[], Awaitable[T]]) -> T:
        """Run a change that must never be cut short (a submit); fail at once only if known down."""
        if self.down and not await self.backend.ping():
            raise ControllerUnavailable(DOWN_MESSAGE)
        return await change()
