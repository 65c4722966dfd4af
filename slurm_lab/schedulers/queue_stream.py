"""squeue's output parsed while squeue still prints it.

A listing of 100,000 jobs is 20 MB that squeue prints over half its run time. The output is cut
into batches of about 64 KiB of whole records, at places that depend only on the output itself,
and each batch is parsed in one worker thread, in order, as soon as it is complete: by the time
squeue exits, most of the parsing is done. A batch that printed what the same batch of the
previous listing printed (its digest, the per-call nonce aside) reuses that listing's rows, and
a listing whose every batch matches is the previous one itself: nothing is parsed or encoded.
"""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor

from ..models import Batch, JobRow, QueueTable
from ..slurm import parsers
from ..slurm.argv import queue_separators

#: Bytes of output per batch (then up to the end of the record under way).
BATCH_BYTES = 1 << 16
#: One thread for every listing: batches are parsed in order, and never two listings at once.
_PARSER = ThreadPoolExecutor(1, thread_name_prefix="slurm-lab-parse")


class QueueStream:
    """Feed it squeue's stdout piece by piece (:meth:`feed`), then :meth:`table`."""

    def __init__(self, nonce: str, mark: str, previous: QueueTable | None) -> None:
        self._nonce, self._mark = nonce.encode(), mark.encode()
        self._text_nonce = nonce
        self._end = queue_separators(nonce)[1].encode()
        self._previous = previous
        self._pending = bytearray()
        self._parsed: list[asyncio.Future[tuple[bytes, list[JobRow] | None, list[str]]]] = []

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of output; start parsing each batch it completes."""
        self._pending += chunk
        while len(self._pending) > BATCH_BYTES:
            cut = self._pending.find(self._end, BATCH_BYTES - len(self._end))
            if cut < 0:
                return
            cut += len(self._end)
            self._start(bytes(self._pending[:cut]))
            del self._pending[:cut]

    async def table(self) -> QueueTable:
        """The listing, once the output has ended: the previous one itself when nothing changed."""
        if self._pending.strip():
            self._start(bytes(self._pending))
        self._pending = bytearray()
        done = await asyncio.gather(*self._parsed)
        digest = hashlib.sha1(b"".join(d for d, _, _ in done), usedforsecurity=False).digest()
        before = self._previous
        if before is not None and before.digest == digest:
            return before
        rows: list[JobRow] = []
        batches, bad = [], []
        for i, (batch_digest, batch_rows, batch_bad) in enumerate(done):
            start = len(rows)
            if batch_rows is None:  # the same as the previous listing's batch i
                old = before.batches[i]  # type: ignore[union-attr]
                rows += before.rows[old.start : old.end]  # type: ignore[union-attr]
            else:
                rows += batch_rows
            bad += batch_bad
            batches.append(Batch(batch_digest, start, len(rows)))
        return QueueTable(parsers.checked_queue_rows(rows, bad), digest, tuple(batches))

    def _start(self, data: bytes) -> None:
        index = len(self._parsed)
        future = asyncio.get_running_loop().run_in_executor(_PARSER, self._parse, index, data)
        self._parsed.append(future)

    def _parse(self, index: int, data: bytes) -> tuple[bytes, list[JobRow] | None, list[str]]:
        """A batch's digest and rows (None: reuse the previous listing's), in the worker thread."""
        digest = hashlib.sha1(data.replace(self._nonce, self._mark), usedforsecurity=False).digest()
        before = self._previous
        if before is not None and index < len(before.batches) and before.batches[index].digest == digest:
            return digest, None, []
        rows, bad = parsers.queue_rows(data.decode("utf-8", "replace"), self._text_nonce)
        return digest, rows, bad
