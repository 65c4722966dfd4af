"""One per process (kernel): a background event loop and the same service the server uses.

Cell runs, widgets and the Python API all go through it, so a notebook full of widgets still
asks Slurm once per cache window, and the kernel's own loop stays free for other cells.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..config import SlurmLab, load_config
from ..errors import InvalidInput, ProgramNotFound, UnknownUser
from ..hosts import Host
from ..queue import QueueView
from ..service import SlurmLabService
from .plan import CHECK_PYTHON
from .records import RunStore

T = TypeVar("T")


class Session:
    def __init__(self, lab: SlurmLab | None = None, records: RunStore | None = None) -> None:
        self.lab = lab or SlurmLab(config=load_config())
        #: The same service the server's handlers use: every rule (validation, identity, the
        #: controller guard, cache invalidation) applies to kernel-side verbs too.
        self.service = SlurmLabService.from_config(self.lab, keep_keys=False)
        self.records = records or RunStore()
        self._pythons: dict[str, dict[str, Any]] = {}
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="slurm-lab", daemon=True)
        self._thread.start()

    @property
    def host(self) -> Host:
        """Files and programs on the cluster side (%%slurm runs); Slurm verbs go through ``service``.
        NotSupported (501) when the scheduler has no host (slurmrestd without a shared file system)."""
        return self.service.files("%%slurm")

    @property
    def queue(self) -> QueueView:
        return self.service.queue

    @property
    def identity_error(self) -> UnknownUser | None:
        """Why Slurm may not be asked to act from here (see identity.py), or None."""
        return self.service.identity_error

    @property
    def default_python(self) -> str:
        if self.lab.python:
            return self.lab.python
        host = self.service.scheduler.host
        return sys.executable if host is not None and host.name == "local" else "python3"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the session loop and wait for it (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def check_python(self, python: str) -> dict[str, Any]:
        """Ask the cluster-side ``python`` for its version and cloudpickle, once per path; refuse
        a mismatch with this kernel before anything is submitted."""
        if python not in self._pythons:
            try:
                result = await self.host.run_program([python, "-c", CHECK_PYTHON])
            except ProgramNotFound as exc:
                raise InvalidInput(
                    "python", f"{python} does not run on the cluster side: {exc.message}"
                ) from None
            if result.returncode != 0:
                detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise InvalidInput("python", f"{python} does not run on the cluster side: {detail}")
            self._pythons[python] = json.loads(result.stdout.strip().splitlines()[-1])
        info = self._pythons[python]
        mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
        if info["python"] != mine:
            raise InvalidInput(
                "python",
                f"{python} is Python {info['python']} but this kernel is Python {mine}; cloudpickle "
                "needs the same version on both sides (use --python or c.SlurmLab.python)",
            )
        if not info["cloudpickle"]:
            raise InvalidInput(
                "python", f"{python} has no cloudpickle; install it there (pip install cloudpickle)"
            )
        return info

    def close(self) -> None:
        self.call(self.service.close(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)


_session: Session | None = None
_lock = threading.Lock()


def get_session() -> Session:
    """The process's session, created on first use from the server's configuration."""
    global _session
    with _lock:
        if _session is None:
            _session = Session()
        return _session
