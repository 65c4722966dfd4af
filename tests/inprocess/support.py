"""What the in-process tests share besides fixtures: the tier's settings and a reply record."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

#: Seconds a listing (or a failure) is reused: short, so tests can step past it.
CACHE_TTL = 0.3
RETRY_AFTER = 7


@dataclass
class Reply:
    code: int
    headers: Any  # tornado HTTPHeaders
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Api = Callable[..., Awaitable[Reply]]


async def past_window() -> None:
    """Sleep past the cache window: the next read asks the scheduler again."""
    await asyncio.sleep(CACHE_TTL + 0.05)
