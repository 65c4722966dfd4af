"""The one way slurm-lab starts a local process: argv only, a timeout that kills, capped output."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
) -> CommandResult:
    """Run ``argv`` (never through a shell) and return its exit code and decoded output.

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
    try:
        await asyncio.wait_for(_communicate(proc, stdin, max_output, out, err), timeout)
    except asyncio.TimeoutError:
        _kill_group(proc)
        await proc.wait()
        error = CommandTimeout(f"{_name(argv)} did not finish within {timeout:g} s")
        error.partial_stderr = err.decode("utf-8", "replace")
        raise error from None
    except _TooMuchOutput:
        _kill_group(proc)
        await proc.wait()
        raise CommandFailed(f"{_name(argv)} printed more than {max_output} bytes") from None
    except BaseException:
        _kill_group(proc)
        raise
    returncode = await proc.wait()
    seconds = time.monotonic() - started
    log.debug("%s exited %s in %.1f ms", _name(argv), returncode, seconds * 1000)
    return CommandResult(
        tuple(argv), returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), seconds
    )


class _TooMuchOutput(Exception):
    pass


async def _communicate(
    proc: asyncio.subprocess.Process, stdin: bytes | None, max_output: int, out: bytearray, err: bytearray
) -> None:
    """Feed stdin and collect stdout/stderr into ``out``/``err`` (kept if the caller gives up)."""

    async def feed() -> None:
        if stdin is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(stdin)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the program exited early; its exit code and stderr say why
        finally:
            proc.stdin.close()

    async def drain(stream: asyncio.StreamReader | None, buf: bytearray) -> None:
        if stream is None:
            return
        while chunk := await stream.read(1 << 16):
            buf += chunk
            if len(buf) > max_output:
                raise _TooMuchOutput

    await asyncio.gather(feed(), drain(proc.stdout, out), drain(proc.stderr, err))


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _name(argv: Sequence[str]) -> str:
    return os.path.basename(argv[0])
