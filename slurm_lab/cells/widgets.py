"""ipywidgets: a live job widget for cell runs, and a queue manager. Text is always escaped."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ipywidgets as w
import orjson

from ..errors import SlurmLabError
from ..models import Efficiency, Job
from ..slurm.reasons import explain
from ..slurm.states import JOB_STATES, TERMINAL, base_state
from .run import CellRun
from .session import Session

_STATE_COLOURS = {"RUNNING": "var(--jp-success-color1, green)", "PENDING": "var(--jp-warn-color1, orange)",
                  "COMPLETED": "var(--jp-success-color1, green)"}  # fmt: skip


def _pre(text: str) -> str:
    return f"<pre style='max-height:16em;overflow:auto;margin:0'>{html.escape(text)}</pre>"


class JobWidget(w.VBox):
    """State, elapsed time, node, a cancel button and the output tail of one cell run."""

    def __init__(self, run: CellRun) -> None:
        self.run = run
        self.title = w.HTML()
        self.cancel_button = w.Button(description="Cancel job", icon="stop", button_style="danger")
        self.cancel_button.on_click(lambda _: self.run.cancel())
        self.output = w.HTML()
        self.error = w.HTML()
        super().__init__([w.HBox([self.title, self.cancel_button]), self.output, self.error])
        run.observers.append(self.update)
        self.update(run)

    def __repr__(self) -> str:
        return self.run.summary()  # the text/plain form: what nbconvert and papermill keep

    def update(self, run: CellRun) -> None:
        colour = _STATE_COLOURS.get(run.state, "var(--jp-error-color1, red)")
        elapsed = ""
        if run.started is not None and run.landed is None and run.state not in TERMINAL:
            elapsed = f" · {(datetime.now() - run.started).total_seconds():.0f} s"
        node = f" · on {html.escape(run.node)}" if run.node else ""
        self.title.value = (
            f"<b>Slurm job {html.escape(run.job_id)}</b> · "
            f"<span style='color:{colour}'>{html.escape(run.state)}</span>{elapsed}{node}"
        )
        self.cancel_button.disabled = run.landed is not None or run.state in TERMINAL
        self.output.value = _pre(run.tail) if run.tail else ""
        if run.error:
            self.error.value = _pre(run.error)
        elif run.landed is not None:
            landed = f"; now in your namespace: {', '.join(run.landed)}" if run.landed else ""
            self.error.value = f"<i>done{html.escape(landed)}</i>"


def efficiency_line(eff: Efficiency) -> str:
    """One finished job's use of what it held, and what to ask for next time, in a line."""

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    parts = [f"CPU {share(eff.cpu_efficiency)}", f"memory {share(eff.memory_efficiency)}",
             f"time {share(eff.time_efficiency)} of the limit"]  # fmt: skip
    return " · ".join(parts) + ("; " + "; ".join(eff.notes) if eff.notes else "")


def _number(job_id: str) -> int:
    head = job_id.split("_", 1)[0]
    return int(head) if head.isdigit() else 0


class QueueManager(w.VBox):
    """The queue (mine/all, state filter), multi-select, cancel/hold/release. With ``auto`` it
    follows the session's push feed: every widget of a kernel shares one refresh per cache window,
    and redraws only when a job changed. ``interval`` is kept for compatibility: the feed's
    pace is ``c.SlurmLab.cache_ttl``."""

    def __init__(self, session: Session, interval: float = 5.0, auto: bool = True) -> None:
        self.session = session
        self.interval = interval
        self._unsubscribe: Callable[[], None] | None = None
        self._by_id: dict[str, Job] = {}
        self._explained: tuple[str, str, str | None] | None = None
        self.scope = w.ToggleButtons(options=["mine", "all"], value="mine", description="Jobs")
        common = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"]
        states = ["any", *common, *sorted(JOB_STATES - set(common))]
        self.state = w.Dropdown(options=states, value="any", description="State")
        # The description is the list's <label>: screen readers name it.
        self.jobs = w.SelectMultiple(
            options=[], rows=12, description="Queue", style={"description_width": "initial"},
            layout=w.Layout(width="100%"),
        )  # fmt: skip
        self.jobs.add_class("jp-SlurmLab-mono")  # ids and states line up
        self.cancel_button = w.Button(description="Cancel", icon="stop", button_style="danger")
        self.hold_button = w.Button(description="Hold", icon="pause")
        self.release_button = w.Button(description="Release", icon="play")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.message = w.HTML()
        #: The one selected job, explained: why it waits, or how much of what it held it used.
        self.info = w.HTML()
        self._confirming = False
        self._closed = False
        self._unavailable = ""  # the message shown while Slurm cannot answer
        self.cancel_button.on_click(lambda _: self._cancel_clicked())
        self.hold_button.on_click(lambda _: self.act("hold"))
        self.release_button.on_click(lambda _: self.act("release"))
        self.refresh_button.on_click(lambda _: self.refresh())
        self.scope.observe(lambda _: self._scope_changed(auto), "value")
        self.state.observe(lambda _: self.refresh(), "value")
        self.jobs.observe(lambda _: self.explain(), "value")
        buttons = w.HBox([self.cancel_button, self.hold_button, self.release_button, self.refresh_button])
        super().__init__([w.HBox([self.scope, self.state]), self.jobs, self.info, buttons, self.message])
        self.refresh()
        if auto:
            self._follow()

    def _scope_changed(self, auto: bool) -> None:
        self.refresh()
        if auto:
            self._follow()

    def _follow(self) -> None:
        """Subscribe to the chosen scope's changes (again, on a scope change)."""

        async def subscribe() -> None:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._unsubscribe = self.session.service.subscribe(self.scope.value, self._pushed)

        try:
            self.session.call(subscribe())
        except SlurmLabError as exc:
            self.message.value = _pre(f"Not following the queue: {exc.message}")

    def _pushed(self, message: bytes) -> bool:
        """A change (or a failed refresh) of the followed scope; False once the widget is closed."""
        if self._closed:
            return False
        if message.startswith(b'{"type":"error"'):
            self._unavailable = _pre(f"Slurm unavailable: {orjson.loads(message)['message']}")
            self.message.value = self._unavailable
        elif (snap := self.session.queue.cache.last(self.scope.value)) is not None:
            if self.message.value == self._unavailable:
                self.message.value = ""  # it is back
            self._show(snap.value.jobs)
        return True

    def refresh(self) -> None:
        self._show(self.session.call(self.session.service.jobs(self.scope.value)))

    def explain(self) -> None:
        """Say why the one selected job waits (and what to do), or how efficient it was."""
        selected = self.jobs.value
        job = self._by_id.get(selected[0]) if len(selected) == 1 else None
        said_of = (job.job_id, job.state, job.reason) if job else None
        if said_of == self._explained:
            return  # the same job in the same state: said already (and no sacct again)
        self._explained = said_of
        if job is None:
            self.info.value = ""
            return
        state = base_state(job.state)
        if state == "PENDING":
            said = explain(job.reason)
            text = f"{job.job_id} waits: {job.reason or 'no reason given'}"
            if said:
                text += f" — {said.text} {said.action}".rstrip()
        elif state in TERMINAL:
            try:
                eff = self.session.call(self.session.service.efficiency(job.job_id))
            except SlurmLabError as exc:
                eff, text = None, f"{job.job_id}: efficiency unavailable ({exc.message})"
            else:
                text = f"{job.job_id}: no accounting record yet"
            if eff is not None:
                text = f"{job.job_id}: {efficiency_line(eff)}"
            if eff is None or not eff.complete:
                self._explained = None  # accounting may have all of it by the next change or refresh
        else:
            text = ""
        self.info.value = f"<div style='white-space:pre-wrap'>{html.escape(text)}</div>" if text else ""

    def _show(self, jobs: list[Job]) -> None:
        self._by_id = {j.job_id: j for j in jobs}
        wanted = None if self.state.value == "any" else self.state.value
        shown = [j for j in jobs if wanted is None or base_state(j.state) == wanted]
        # What people act on first: running, then pending, then the rest; newest first in each.
        rank = {"RUNNING": 0, "PENDING": 1}
        shown.sort(key=lambda j: (rank.get(base_state(j.state), 2), -(j.array_job_id or _number(j.job_id))))
        # Short enough for a notebook's width: the user only when showing everyone's jobs.
        who = (lambda j: f"{j.user[:10]:<10} ") if self.scope.value == "all" else (lambda j: "")
        options = [(f"{j.job_id:<14} {j.state.split(' ')[0][:10]:<10} {who(j)}{j.name[:40]}", j.job_id)
                   for j in shown]  # fmt: skip
        if options != list(self.jobs.options):
            keep = [v for v in self.jobs.value if v in {o[1] for o in options}]
            self.jobs.options = options
            self.jobs.value = tuple(keep)
        self.explain()  # a state or reason may have changed

    def _cancel_clicked(self) -> None:
        selected = self.jobs.value
        if not selected:
            self.message.value = "Select jobs first."
        elif not self._confirming:
            self._confirming = True
            self.cancel_button.description = f"Confirm cancel ({len(selected)})"
        else:
            self.act("cancel")

    def act(self, action: str) -> None:
        self._confirming = False
        self.cancel_button.description = "Cancel"
        ids = list(self.jobs.value)  # exactly what each row shows: 12_[3-9] is those tasks only
        if not ids:
            self.message.value = "Select jobs first."
            return
        results = self.session.call(self.session.service.act(action, ids))  # type: ignore[arg-type]
        lines = [f"{r.job_id}: {'ok' if r.ok else r.message}" for r in results]
        self.message.value = _pre(f"{action}:\n" + "\n".join(lines))
        self.refresh()

    def close(self) -> None:
        self._closed = True
        if self._unsubscribe is not None:
            self.session.spawn(_call(self._unsubscribe))
        super().close()


async def _call(fn: Callable[[], None]) -> None:
    fn()


def display_queue(session: Session, **kwargs: Any) -> QueueManager:
    from IPython.display import display

    manager = QueueManager(session, **kwargs)
    display(manager)
    return manager
