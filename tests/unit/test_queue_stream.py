"""squeue's output parsed while it prints: the same rows as a whole parse, however the pieces
arrive; an unchanged listing is the previous table itself; a change re-parses its batch only."""

from __future__ import annotations

import pytest

from slurm_lab.models import QueueTable
from slurm_lab.schedulers import queue_stream
from slurm_lab.schedulers.queue_stream import QueueStream
from slurm_lab.slurm import parsers
from slurm_lab.slurm.argv import FIELD_SEP, queue_separators


def output(nonce: str, count: int, renamed: int | None = None) -> bytes:
    text_sep, record_sep = queue_separators(nonce)
    records = []
    for i in range(count):
        fixed = [str(100 + i), "N/A", "N/A", "slab-alice", "1001", "lab", "debug", "PENDING", "JobHeldUser",
                 "2026-11-21T10:00:00", "N/A", "N/A", "0:00", "1:00", "1", "1", "", "normal"]  # fmt: skip
        name = "renamed" if i == renamed else f"job {i} \x1f\x1e\n"  # hostile bytes, as users may
        texts = [name, "/home/slab-alice", "/dev/null", "/dev/null"]
        records.append(FIELD_SEP.join(fixed) + text_sep + text_sep.join(texts) + record_sep + "\n")
    return "".join(records).encode()


async def stream(data: bytes, nonce: str, previous: QueueTable | None, piece: int) -> QueueTable:
    parser = QueueStream(nonce, "secret-mark", previous)
    for at in range(0, len(data), piece):
        parser.feed(data[at : at + piece])
    return await parser.table()


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_stream, "BATCH_BYTES", 4096)


@pytest.mark.asyncio
async def test_streamed_rows_are_the_whole_parse_whatever_the_pieces() -> None:
    data = output("n0nce1", 300)
    whole = parsers.parse_queue_rows(data.decode(), "n0nce1")
    for piece in (1, 7, 4096, 65536, len(data)):
        table = await stream(data, "n0nce1", None, piece)
        assert table.rows == whole and len(table.batches) > 5
    assert whole[3][3] == "job 3 \x1f\x1e\n"


@pytest.mark.asyncio
async def test_an_unchanged_listing_is_the_previous_table_and_a_change_reparses_one_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await stream(output("aaaaaa", 300), "aaaaaa", None, 5000)
    assert await stream(output("bbbbbb", 300), "bbbbbb", first, 333) is first  # another nonce only

    parsed: list[int] = []
    real = parsers.queue_rows
    monkeypatch.setattr(parsers, "queue_rows", lambda text, nonce: parsed.append(1) or real(text, nonce))
    changed = await stream(output("cccccc", 300, renamed=150), "cccccc", first, 999)
    assert changed is not first and changed.digest != first.digest
    assert len(parsed) == 1  # the batch holding job 150 only
    assert changed.rows == parsers.parse_queue_rows(output("x", 300, renamed=150).decode(), "x")
    assert changed.rows[150][3] == "renamed"


@pytest.mark.asyncio
async def test_a_listing_with_no_readable_record_is_unexpected_output() -> None:
    with pytest.raises(Exception, match="cannot read"):
        await stream(b"garbage\x1enonce\n" * 3, "nonce", None, 10)
