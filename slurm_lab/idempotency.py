"""Remember submit idempotency keys (in memory and on disk) so a retried submit never makes a second job."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from .errors import IdempotencyConflict
from .models import SubmitResult

log = logging.getLogger("slurm_lab.idempotency")


def fingerprint(*parts: object) -> str:
    """A stable digest of a request body, to detect a key reused for a different request."""
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


class IdempotencyStore:
    """``key -> (fingerprint, job id)`` for ``ttl`` seconds; appended to a JSON-lines file."""

    def __init__(self, path: Path | None, ttl: float) -> None:
        self.path = path
        self.ttl = ttl
        self._records: dict[str, tuple[str, str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._load()

    async def submit_once(
        self, key: str, print_: str, submit: Callable[[], Awaitable[SubmitResult]]
    ) -> tuple[SubmitResult, bool]:
        """Run ``submit`` unless ``key`` was seen; return the result and whether it was replayed.

        Concurrent calls with one key wait for the first; a key reused with a different body
        raises IdempotencyConflict.
        """
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            seen = self._records.get(key)
            if seen and time.time() - seen[2] < self.ttl:
                if seen[0] != print_:
                    raise IdempotencyConflict("idempotency_key was already used for a different submission")
                return SubmitResult(seen[1]), True
            result = await submit()
            self._remember(key, print_, result.job_id)
            return result, False

    def _remember(self, key: str, print_: str, job_id: str) -> None:
        now = time.time()
        self._records[key] = (print_, job_id, now)
        if self.path is None:
            return
        line = json.dumps({"key": key, "fp": print_, "job_id": job_id, "at": now})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            log.warning("cannot record idempotency key in %s: %s", self.path, exc.strerror)

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        now = time.time()
        try:
            lines = self.path.read_text().splitlines()
        except OSError as exc:
            log.warning("cannot read %s: %s", self.path, exc.strerror)
            return
        for line in lines:
            try:
                rec = json.loads(line)
                if now - rec["at"] < self.ttl:
                    self._records[rec["key"]] = (rec["fp"], rec["job_id"], rec["at"])
            except (ValueError, KeyError, TypeError):
                continue
        # Compact: keep only live records.
        live = [
            json.dumps({"key": k, "fp": fp, "job_id": j, "at": at})
            for k, (fp, j, at) in self._records.items()
        ]
        try:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(f"{x}\n" for x in live))
            tmp.chmod(0o600)
            tmp.replace(self.path)
        except OSError:
            pass
