"""The one way slurm-lab starts a local process: argv only, a timeout that kills, capped output.

:func:`exchange` is also how the SSH host feeds and reads a remote process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import CommandFailed, CommandTimeout, ProgramNotFound

log = logging.getLogger("slurm_lab.runner")


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


async def run_command(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    timeout: float,
    max_output: int,
    env: Mapping[str, str] | None = None,
    on_stdout: Callable[[bytes], None] | None = None,
) -> CommandResult:
    """Run ``argv`` (never through a shell) and return its exit code and decoded output.

    With ``on_stdout``, each piece of stdout goes there as it arrives (so a caller can parse a
    long listing while the program still prints it) and the result's ``stdout`` is empty.

    ``stdin`` is written then closed (scripts go to sbatch this way, never into argv). The process
    runs in its own session so a timeout kills it and its children. Output beyond ``max_output``
    bytes aborts the command. Raises ProgramNotFound, CommandTimeout,
    CommandFailed (output too large). Logs the program and duration, never stdin.
    """
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ProgramNotFound(f"{argv[0]} not found") from exc
    except PermissionError as exc:
        raise ProgramNotFound(f"{argv[0]} is not executable") from exc

    out, err = bytearray(), bytearray()
    end_input = proc.stdin.close if proc.stdin is not None else (lambda: None)
    streams = (proc.stdout, proc.stderr)
    try:
        await asyncio.wait_for(
            exchange(_name(argv), stdin, proc.stdin, end_input, streams, (out, err), max_output, on_stdout),
            timeout,
        )
    except asyncio.TimeoutError:
        _kill_group(proc)
        await proc.wait()
        error = CommandTimeout(f"{_name(argv)} did not finish within {timeout:g} s")
        error.partial_stderr = err.decode("utf-8", "replace")
        raise error from None
    except CommandFailed:
        _kill_group(proc)
        await proc.wait()
        raise
    except BaseException:
        _kill_group(proc)
        raise
    returncode = await proc.wait()
    seconds = time.monotonic() - started
    log.debug("%s exited %s in %.1f ms", _name(argv), returncode, seconds * 1000)
    return CommandResult(
        tuple(argv), returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), seconds
    )


class StreamReader(Protocol):
    async def read(self, n: int) -> bytes: ...


class StreamWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


async def exchange(
    name: str,
    stdin: bytes | None,
    writer: StreamWriter | None,
    end_input: Callable[[], None],
    readers: tuple[StreamReader | None, StreamReader | None],
    buffers: tuple[bytearray, bytearray],
    max_output: int,
    on_stdout: Callable[[bytes], None] | None = None,
) -> None:
    """Feed ``stdin`` then end the input, while collecting stdout and stderr into ``buffers``
    (kept if the caller gives up: a timeout still has the partial stderr). The one feed, drain
    and cap of local and SSH processes: output beyond ``max_output`` bytes raises CommandFailed."""

    async def feed() -> None:
        try:
            if stdin and writer is not None:
                writer.write(stdin)
                await writer.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the program exited early; its exit code and stderr say why
        finally:
            end_input()

    async def drain(
        stream: StreamReader | None, buf: bytearray, sink: Callable[[bytes], None] | None
    ) -> None:
        if stream is None:
            return
        size = 0
        while chunk := await stream.read(1 << 16):
            size += len(chunk)
            if size > max_output:
                raise CommandFailed(f"{name} printed more than {max_output} bytes")
            if sink is None:
                buf += chunk
            else:
                sink(chunk)

    await asyncio.gather(
        feed(), drain(readers[0], buffers[0], on_stdout), drain(readers[1], buffers[1], None)
    )


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _name(argv: Sequence[str]) -> str:
    return os.path.basename(argv[0])
