"""A cell running as a batch job: submit it, watch it, bring its outputs back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from dataclasses import asdict
from datetime import datetime
from importlib.resources import files
from typing import Any

import cloudpickle

from .. import validation
from ..errors import InvalidInput, OutputNotAvailable
from ..models import JobProgress, WillRun
from ..slurm.states import TERMINAL, base_state
from .plan import RunPlan, job_script, result_name, submit_flags
from .records import RunRecord
from .session import Session

_TAIL_BYTES = 64 << 10
_GRACE = 5.0  # seconds to wait for result files after Slurm says the job ended
#: How often the watcher looks for the worker's result file, the job's own signal that the cell
#: is done (an open() of a file not there yet, never a Slurm RPC): after 0.5 % of the time since
#: the job was submitted or seen to start, but at least every 0.25 s and at most every 5 ms. So
#: the outputs land within that of the worker writing them: milliseconds for a short cell, and a
#: cell running for hours costs its kernel four looks a second. Over SSH each look is one SFTP
#: request to the login node, which takes a round trip anyway: at most ten a second there.
_LAG_SHARE, _FASTEST_LOOK, _REMOTE_FASTEST_LOOK, _SLOWEST_LOOK = 0.005, 0.005, 0.1, 0.25
#: Seconds between reads of the output's tail that the job widget shows.
_TAIL_POLL = 0.25
#: Fewest seconds between two questions to Slurm about the job; else one per cache window
#: (c.SlurmLab.cache_ttl). Each is one ``scontrol show job`` of this job alone: where it is,
#: whether it ended.
_MIN_STATE_POLL = 0.5
#: Seconds after the outputs landed before Slurm is asked where the job ran (see _confirm).
_CONFIRM_AFTER = 0.2


class RemoteError(RuntimeError):
    """The cell raised on the cluster; the message is the remote traceback."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the cell's own traceback from the cluster, not this kernel's frames."""
        return ["RemoteError: the cell raised on the cluster:", *str(self).rstrip("\n").splitlines()]


class JobEnded(RuntimeError):
    """The job ended (cancelled, timed out, ...) without the cell finishing."""


def _notebook_of(namespace: MutableMapping[str, Any]) -> str:
    """The notebook this kernel runs, as JupyterLab tells kernels (``__session__``), if it does."""
    name = namespace.get("__session__") or os.environ.get("JPY_SESSION_NAME") or ""
    return os.path.basename(str(name))


async def start(session: Session, plan: RunPlan, namespace: MutableMapping[str, Any]) -> RunRecord:
    """Check, upload and submit ``plan``; nothing is submitted when any step fails."""
    session.service.check_identity()
    missing = [n for n in plan.inputs if n not in namespace]
    if missing:
        raise InvalidInput("--in", f"{', '.join(missing)} not defined in this notebook")
    try:
        inputs = cloudpickle.dumps({n: namespace[n] for n in plan.inputs})
    except Exception as exc:
        raise InvalidInput("--in", f"cannot pickle the inputs: {exc}") from None
    await session.check_python(plan.python)
    host = session.host
    run_dir = await host.make_dir(f"{session.lab.runs_dir.rstrip('/')}/{plan.run_id}")
    meta = {"run_id": plan.run_id, "out": list(plan.outputs)}
    for name, data in [
        ("worker.py", files("slurm_lab.cells").joinpath("worker.py").read_bytes()),
        ("cell.py", plan.source.encode()),
        ("inputs.pkl", inputs),
        ("meta.json", json.dumps(meta).encode()),
    ]:
        await host.write_file(f"{run_dir}/{name}", data)
    result, _ = await session.service.submit(
        job_script(plan, run_dir).encode(), submit_flags(plan, run_dir), None
    )
    record = RunRecord(
        run_id=plan.run_id,
        job_id=result.job_id,
        created=datetime.now().isoformat(timespec="seconds"),
        source=plan.source,
        options=plan.options,
        inputs=list(plan.inputs),
        outputs=list(plan.outputs),
        run_dir=run_dir,
        backend=session.service.scheduler.backend,
        tasks=array_tasks(str(plan.options["array"])) if plan.is_array else None,
        extra={"notebook": _notebook_of(namespace)},
    )
    session.records.save(record)
    return record


async def will_run(session: Session, plan: RunPlan) -> WillRun:
    """When and where ``plan`` would start (``sbatch --test-only``): nothing is uploaded or made."""
    session.service.check_identity()
    run_dir = f"{session.lab.runs_dir.rstrip('/')}/{plan.run_id}"
    return await session.service.will_run(job_script(plan, run_dir).encode(), submit_flags(plan, run_dir))


def array_tasks(spec: str) -> list[str]:
    """Task ids of an ``--array`` spec: "0-9%2", "1,3,5", "0-15:4"."""
    tasks: list[str] = []
    for part in spec.split("%")[0].split(","):
        rng, _, step = part.partition(":")
        first, _, last = rng.partition("-")
        tasks += [str(i) for i in range(int(first), int(last or first) + 1, int(step or 1))]
    return tasks


class CellRun:
    """Handle on one cell run: ``.result()``, ``.wait()``, ``.cancel()``, ``.stdout``, ``.state``.

    Watching happens on the session loop; when the job ends, ``--out`` variables land in
    ``namespace`` and ``on_change`` observers (the job widget) hear about every change.
    """

    def __init__(
        self, session: Session, record: RunRecord, namespace: MutableMapping[str, Any] | None = None
    ) -> None:
        if "_" in validation.job_id(record.job_id):
            raise InvalidInput("job_id", f"a cell run is a whole job, not {record.job_id}")
        self.session = session
        self.record = record
        self.namespace = namespace
        self.state = record.state
        self.node: str | None = None
        self.started: datetime | None = None  # Slurm's StartTime (local time)
        self.ended: datetime | None = None  # when this kernel saw the job end
        self.tail = ""
        self.error: str | None = None
        self.landed: list[str] | None = None  # the --out names put in the namespace, once done
        self.observers: list[Callable[[CellRun], None]] = []
        self._tail_offset = 0
        self._results: dict[str | None, dict[str, Any]] = {}  # by array task (None: a plain job)
        self._gone = False  # the controller no longer lists the job: it has finished
        self._confirming: asyncio.Future[None] | None = None
        self._since = time.monotonic()  # submitted, or seen to start: the result may come soon
        self._future: concurrent.futures.Future[dict[str, Any]] = session.spawn(self._watch())

    @property
    def job_id(self) -> str:
        return self.record.job_id

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Block until the job ends; return the ``--out`` variables (raise RemoteError / JobEnded)."""
        outputs: dict[str, Any] = self._future.result(timeout)["outputs"]
        return outputs

    def result(self, timeout: float | None = None) -> Any:
        """The value of the cell's last expression (per task, as a dict, for array jobs)."""
        return self._future.result(timeout)["result"]

    def cancel(self) -> None:
        self.session.call(self.session.service.act("cancel", [self.job_id]))

    def efficiency(self, task: str | None = None) -> dict[str, Any] | None:
        """How much of what it held the finished job (or array ``task``) used, with right-sizing
        advice (``suggestions``, ``notes``); None until accounting has its record."""
        job_id = f"{self.job_id}_{task}" if task is not None else self.job_id
        found = self.session.call(self.session.service.efficiency(job_id))
        return asdict(found) if found is not None else None

    @property
    def stdout(self) -> str:
        return self._read_log("stdout")

    @property
    def stderr(self) -> str:
        return self._read_log("stderr")

    def _read_log(self, stream: str) -> str:
        names = [f"{stream}-{t}.txt" for t in self.record.tasks] if self.record.tasks else [f"{stream}.txt"]
        parts = []
        for name in names:
            try:
                data, _ = self.session.call(
                    self.session.host.read_file(f"{self.record.run_dir}/{name}", 0, 16 << 20)
                )
                parts.append(data.decode("utf-8", "replace"))
            except OutputNotAvailable:
                continue
        return "".join(parts)

    def __repr__(self) -> str:
        return f"<CellRun job {self.job_id} {self.state}>"

    def summary(self) -> str:
        """One line for people and for saved notebooks: job, state, run time, node."""
        parts = [f"Slurm job {self.job_id}", self.state]
        if self.started is not None:
            end = self.ended or datetime.now()
            parts.append(f"{max(0.0, (end - self.started).total_seconds()):.0f} s")
        if self.node:
            parts.append(f"on {self.node}")
        return " · ".join(parts)

    def _ipython_display_(self) -> None:
        """The live widget; its plain-text form (what a headless run saves) is updated at the end."""
        from IPython.display import display

        from .widgets import JobWidget

        widget = JobWidget(self)
        handle = display(widget, display_id=True)  # type: ignore[no-untyped-call]

        def at_end(run: CellRun) -> None:
            # Again if Slurm says where it ran after the outputs landed (see _confirm).
            if run.state in TERMINAL and handle is not None:
                handle.update(widget)

        self.observers.append(at_end)

    def echo_output(self) -> None:
        """Write the job's whole stdout and stderr as this cell's own output (``--wait``), so a
        saved or exported notebook holds what the cell printed, like a local cell's."""
        out, err = self.stdout, self.stderr
        if out:
            sys.stdout.write(out)
            sys.stdout.flush()
        if err:
            sys.stderr.write(err)
            sys.stderr.flush()

    # ------------------------------------------------------------------ watching
    async def _watch(self) -> dict[str, Any]:
        """Wait for the job's own signal, its result file (looked for ever less often, from every
        5 ms to every 0.25 s, and often again once the job starts), and ask Slurm about this job
        alone once per cache window: where it is for the widget, and whether it ended without a
        result (cancelled, timed out, failed before the cell ran)."""
        state_every = max(_MIN_STATE_POLL, self.session.lab.cache_ttl)
        fastest = _FASTEST_LOOK if self.session.service.files_are_local else _REMOTE_FASTEST_LOOK
        asking: asyncio.Future[None] | None = None
        next_state = next_tail = 0.0
        ended_at: float | None = None
        try:
            while True:
                results = await self._read_results()
                if results is not None:
                    landed = self._land(results)  # first: what the notebook is waiting for
                    await self._drain_tail()  # the last lines, printed just before the end
                    self._confirming = asyncio.ensure_future(self._confirm())
                    return self._finish(results, landed)
                now = time.monotonic()
                if now >= next_state and (asking is None or asking.done()):
                    # Beside the loop: a slow controller never holds up the look for the result.
                    asking, next_state = asyncio.ensure_future(self._poll_state()), now + state_every
                if now >= next_tail:
                    await self._poll_tail()
                    next_tail = now + _TAIL_POLL
                if self.state in TERMINAL or self._gone:
                    ended_at = ended_at or now
                    if now - ended_at > _GRACE:
                        await self._drain_tail()
                        how = self.state if self.state in TERMINAL else "(Slurm no longer lists it)"
                        raise JobEnded(f"job {self.job_id} ended {how} before the cell finished")
                await asyncio.sleep(min(max(fastest, (now - self._since) * _LAG_SHARE), _SLOWEST_LOOK))
        except BaseException as exc:
            self.error = str(exc)
            self.state = self.state if self.state in TERMINAL else "FAILED"
            self._save_state()
            self._notify()
            raise
        finally:
            if asking is not None:
                asking.cancel()

    async def _read_results(self) -> list[dict[str, Any]] | None:
        """Every task's result once all are there; each file is read once, in task order."""
        tasks: list[str | None] = [*self.record.tasks] if self.record.tasks else [None]
        for task in tasks:
            if task in self._results:
                continue
            try:
                data, _ = await self.session.host.read_file(
                    f"{self.record.run_dir}/{result_name(task)}", 0, 1 << 31
                )
            except OutputNotAvailable:
                return None
            self._results[task] = dict(cloudpickle.loads(data))
        return [self._results[task] for task in tasks]

    async def _ask_slurm(self) -> list[JobProgress] | None:
        """This job's records from Slurm ([] once the controller forgot it); None when Slurm
        could not answer (a blip of the controller: keep waiting, the result file decides)."""
        service = self.session.service
        try:
            return await service.guard.run(lambda: service.scheduler.job_progress(self.job_id))
        except Exception:
            return None

    async def _poll_state(self) -> None:
        records = await self._ask_slurm()
        if records == []:
            await self._forgotten()
        elif records:
            states = {base_state(r.state) for r in records}
            state = "RUNNING" if "RUNNING" in states else sorted(states)[0]
            if len(states) > 1 and states <= TERMINAL:
                state = "FAILED" if states - {"COMPLETED"} else "COMPLETED"
            self._where(records)
            if state != self.state:
                if state == "RUNNING":
                    self._since = time.monotonic()
                self.state = state
                self._save_state()
        self._notify()

    def _where(self, records: list[JobProgress]) -> None:
        """When it started and on which nodes (a pending job's StartTime is only an estimate)."""
        ran = [r for r in records if base_state(r.state) != "PENDING"]
        start = next((r.start_time for r in ran if r.start_time), None)
        if start and self.started is None:
            with contextlib.suppress(ValueError):
                self.started = datetime.fromisoformat(start)
        self.node = next((r.nodes for r in ran if r.nodes), self.node)

    async def _forgotten(self) -> None:
        """The controller no longer lists the job, so it has finished: how, accounting may say."""
        if self._gone:
            return
        self._gone = True
        if self.state in TERMINAL:
            return
        try:
            details = await self.session.service.details(self.job_id)
        except Exception:  # no accounting, or it cannot answer: finished, how is unknown
            return
        state = base_state(details.fields.get("JobState", ""))
        if state in TERMINAL:
            self.state = state
            self._save_state()

    async def _confirm(self) -> None:
        """Once the outputs landed: ask Slurm where the job ran, which a short cell can leave
        unseen (it starts and ends between two questions), for the widget and the summary."""
        if self._gone or (self.started is not None and self.node is not None):
            return
        await asyncio.sleep(_CONFIRM_AFTER)  # not while the notebook takes its outputs
        records = await self._ask_slurm()
        if records:
            self._where(records)
            self._notify()

    async def _drain_tail(self) -> None:
        before = -1
        while self._tail_offset != before:
            before = self._tail_offset
            await self._poll_tail()

    async def _poll_tail(self) -> None:
        name = f"stdout-{self.record.tasks[0]}.txt" if self.record.tasks else "stdout.txt"
        try:
            data, _ = await self.session.host.read_file(
                f"{self.record.run_dir}/{name}", self._tail_offset, _TAIL_BYTES
            )
        except OutputNotAvailable:
            return
        if data:
            self._tail_offset += len(data)
            self.tail = (self.tail + data.decode("utf-8", "replace"))[-_TAIL_BYTES:]
            self._notify()

    def _land(self, results: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The ``--out`` variables and the result, put in the namespace; None if the cell failed."""
        if any(not r["ok"] for r in results):
            return None
        if self.record.tasks:
            outputs = {
                name: {t: r["outputs"][name] for t, r in zip(self.record.tasks, results, strict=True)
                       if name in r["outputs"]}
                for name in self.record.outputs
            }  # fmt: skip
            value: Any = {t: r["result"] for t, r in zip(self.record.tasks, results, strict=True)}
        else:
            outputs, value = results[0]["outputs"], results[0]["result"]
        if self.namespace is not None:
            self.namespace.update(outputs)
        return {"outputs": outputs, "result": value}

    def _finish(self, results: list[dict[str, Any]], landed: dict[str, Any] | None) -> dict[str, Any]:
        failed = [r for r in results if not r["ok"]]
        if landed is None:
            self.state, self.error = "FAILED", failed[0]["error"]
            self._save_state()
            self._notify()
            raise RemoteError(failed[0]["error"])
        missing = sorted({m for r in results for m in r["missing"]})
        self.landed = sorted(landed["outputs"])
        self.state = "COMPLETED"
        self.error = f"not defined by the cell: {', '.join(missing)}" if missing else None
        self._save_state()
        self._notify()
        return landed

    def _save_state(self) -> None:
        self.record.state = self.state
        self.session.records.save(self.record)

    def _notify(self) -> None:
        if self.state in TERMINAL and self.ended is None:
            self.ended = datetime.now()
        for observer in list(self.observers):
            observer(self)
