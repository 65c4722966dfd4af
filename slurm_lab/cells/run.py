"""A cell running as a batch job: submit it, watch it, bring its outputs back."""

from __future__ import annotations

import asyncio
import concurrent.futures
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

from ..errors import InvalidInput, OutputNotAvailable
from ..models import WillRun
from ..slurm.states import TERMINAL, base_state
from .plan import RunPlan, job_script, result_name, submit_flags
from .records import RunRecord
from .session import Session

_TAIL_BYTES = 64 << 10
_GRACE = 5.0  # seconds to wait for result files after Slurm says the job ended
_FAST_POLL, _FAST_SECONDS = 0.05, 3.0


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
            if run.state in TERMINAL and handle is not None:
                run.observers.remove(at_end)
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
        # Most short cells end within seconds: check the result file every 50 ms at first (a stat,
        # not a Slurm RPC; job state comes from the shared, cached queue), then back off to 2 s.
        interval, ended_at, began = _FAST_POLL, None, time.monotonic()
        try:
            while True:
                results = await self._read_results()
                if results is not None:
                    await self._drain_tail()  # the last lines, printed just before the end
                    return self._finish(results)
                await self._poll_state()
                await self._poll_tail()
                if self.state in TERMINAL:
                    ended_at = ended_at or time.monotonic()
                    if time.monotonic() - ended_at > _GRACE:
                        await self._drain_tail()
                        raise JobEnded(f"job {self.job_id} ended {self.state} before the cell finished")
                await asyncio.sleep(interval)
                if time.monotonic() - began > _FAST_SECONDS:
                    interval = min(interval * 1.5, 2.0)
        except BaseException as exc:
            self.error = str(exc)
            self.state = self.state if self.state in TERMINAL else "FAILED"
            self._save_state()
            self._notify()
            raise

    async def _read_results(self) -> list[dict[str, Any]] | None:
        tasks: list[str | None] = [*self.record.tasks] if self.record.tasks else [None]
        results = []
        for task in tasks:
            try:
                data, _ = await self.session.host.read_file(
                    f"{self.record.run_dir}/{result_name(task)}", 0, 1 << 31
                )
            except OutputNotAvailable:
                return None
            results.append(dict(cloudpickle.loads(data)))
        return results

    async def _poll_state(self) -> None:
        try:
            jobs = await self.session.queue.jobs("mine")
        except Exception:
            return  # a blip of the controller: keep waiting, the result file decides
        mine = [j for j in jobs if j.job_id == self.job_id or str(j.array_job_id) == self.job_id]
        if mine:
            states = {base_state(j.state) for j in mine}
            state = "RUNNING" if "RUNNING" in states else sorted(states)[0]
            if len(states) > 1 and states <= TERMINAL:
                state = "FAILED" if states - {"COMPLETED"} else "COMPLETED"
            start = next((j.start_time for j in mine if j.start_time), None)
            if start and self.started is None:
                self.started = datetime.fromisoformat(start)
            self.node = next((j.nodes for j in mine if j.nodes), self.node)
            if state != self.state:
                self.state = state
                self._save_state()
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

    def _finish(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        failed = [r for r in results if not r["ok"]]
        if failed:
            self.state, self.error = "FAILED", failed[0]["error"]
            self._save_state()
            self._notify()
            raise RemoteError(failed[0]["error"])
        if self.record.tasks:
            outputs = {
                name: {t: r["outputs"][name] for t, r in zip(self.record.tasks, results, strict=True)
                       if name in r["outputs"]}
                for name in self.record.outputs
            }  # fmt: skip
            value: Any = {t: r["result"] for t, r in zip(self.record.tasks, results, strict=True)}
        else:
            outputs, value = results[0]["outputs"], results[0]["result"]
        missing = sorted({m for r in results for m in r["missing"]})
        if self.namespace is not None:
            self.namespace.update(outputs)
        self.landed = sorted(outputs)
        self.state = "COMPLETED"
        self.error = f"not defined by the cell: {', '.join(missing)}" if missing else None
        self._save_state()
        self._notify()
        return {"outputs": outputs, "result": value}

    def _save_state(self) -> None:
        self.record.state = self.state
        self.session.records.save(self.record)

    def _notify(self) -> None:
        if self.state in TERMINAL and self.ended is None:
            self.ended = datetime.now()
        for observer in list(self.observers):
            observer(self)
