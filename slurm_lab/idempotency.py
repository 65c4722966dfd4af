"""Remember submit idempotency keys (in memory and on disk) so a retried submit never makes a second job.

A keyed submit is recorded *before* sbatch runs, with a random tag that goes into the job's
comment. Until sbatch answers, the outcome is unknown: a frozen slurmctld may time sbatch out
and still create the job when it resumes, and the server may be killed meanwhile. A retry of
an unknown outcome looks the tag up in Slurm first (see service.submit) and submits only when
Slurm has no such job.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

from .atomic import write_atomically
from .errors import IdempotencyConflict

log = logging.getLogger("slurm_lab.idempotency")

#: How often (seconds) expired records are dropped from memory.
_PRUNE_EVERY = 60.0


def fingerprint(*parts: object) -> str:
    """A stable digest of a request body, to detect a key reused for a different request."""
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Claim:
    """One key's record: ``job_id`` None while the outcome of its submit is unknown."""

    key: str
    fp: str
    tag: str
    at: float
    job_id: str | None = None
    attempted: bool = False  # sbatch was started at least once for this key


class IdempotencyStore:
    """``key -> Claim`` for ``ttl`` seconds; appended to a JSON-lines file, compacted on start."""

    def __init__(self, path: Path | None, ttl: float) -> None:
        self.path = path
        self.ttl = ttl
        self._claims: dict[str, Claim] = {}
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._pruned_at = time.monotonic()
        self._load()

    def __len__(self) -> int:
        return len(self._claims)

    @contextlib.asynccontextmanager
    async def claim(self, key: str, print_: str) -> AsyncIterator[Claim]:
        """Hold ``key`` (concurrent requests with it wait) and yield its claim, new or remembered.

        A key reused with a different body raises IdempotencyConflict.
        """
        async with self._locked(key):
            self._prune()
            claim = self._claims.get(key)
            if claim is not None and time.time() - claim.at >= self.ttl:
                claim = None
            if claim is None:
                claim = Claim(key, print_, f"slurm-lab:{secrets.token_hex(8)}", time.time())
            elif claim.fp != print_:
                raise IdempotencyConflict("idempotency_key was already used for a different submission")
            yield claim

    def attempting(self, claim: Claim) -> None:
        """sbatch is about to run: from now until :meth:`succeeded`, the outcome is unknown."""
        claim.attempted, claim.at = True, time.time()
        self._claims[claim.key] = claim
        self._append(claim)

    def succeeded(self, claim: Claim, job_id: str) -> None:
        claim.job_id = job_id
        self._claims[claim.key] = claim
        self._append(claim)

    def failed(self, claim: Claim) -> None:
        """sbatch surely made no job (Slurm refused it): the key is free again."""
        if self._claims.pop(claim.key, None) is not None:
            self._append(claim, forget=True)

    @contextlib.asynccontextmanager
    async def _locked(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]

    def _prune(self) -> None:
        if time.monotonic() - self._pruned_at < _PRUNE_EVERY:
            return
        self._pruned_at = time.monotonic()
        oldest = time.time() - self.ttl
        for key in [k for k, c in self._claims.items() if c.at < oldest]:
            del self._claims[key]

    def _append(self, claim: Claim, forget: bool = False) -> None:
        if self.path is None:
            return
        record = {"key": claim.key, "forget": True} if forget else asdict(claim)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(json.dumps(record) + "\n")
        except OSError as exc:
            log.warning("cannot record idempotency key in %s: %s", self.path, exc.strerror)

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            lines = self.path.read_text().splitlines()
        except OSError as exc:
            log.warning("cannot read %s: %s", self.path, exc.strerror)
            return
        now = time.time()
        for line in lines:  # later lines win
            try:
                rec = json.loads(line)
                if rec.get("forget"):
                    self._claims.pop(rec["key"], None)
                    continue
                claim = Claim(**{"tag": "", **rec})  # records before tags had none
            except (ValueError, KeyError, TypeError):
                continue  # an older format or a torn last line
            if now - claim.at < self.ttl:
                self._claims[claim.key] = claim
        self._compact()

    def _compact(self) -> None:
        assert self.path is not None
        try:
            lines = "".join(json.dumps(asdict(c)) + "\n" for c in self._claims.values())
            write_atomically(self.path, lines.encode())
        except OSError:
            pass
