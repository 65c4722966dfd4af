"""``%%slurm`` (run the cell as a batch job) and ``%slurm`` (queue, runs, attach, cancel, jobs)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..errors import SlurmLabError
from ..frame import jobs_frame, records_frame
from ..slurm.options import OPTIONS
from .plan import make_plan
from .run import CellRun, start, will_run
from .session import Session, get_session

#: The sbatch options %%slurm offers (marked ``cell`` in slurm/options.py), by name.
SBATCH_ARGS = {o.name: o.name for o in OPTIONS if o.cell}


def sbatch_arguments(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add %%slurm's sbatch options from the table, with sbatch's own short and long flags."""
    for o in reversed([o for o in OPTIONS if o.cell]):
        flags = [f for f in (o.short, o.flag) if f]
        kind: dict[str, Any] = {"action": "store_true"} if o.kind == "switch" else {}
        func = argument(*flags, dest=o.name, help=f"{o.help} (sbatch {o.flag})", **kind)(func)
    return func


LINE_USAGE = """%slurm queue            the queue manager widget
%slurm jobs [all]       the queue as a DataFrame
%slurm runs             recorded %%slurm runs (survive kernel restarts)
%slurm attach JOBID [--wait]   bring a recorded run's outputs back into this kernel
%slurm cancel JOBID...  cancel jobs"""


@magics_class
class SlurmMagics(Magics):
    @property
    def session(self) -> Session:
        return get_session()

    @property
    def namespace(self) -> dict[str, Any]:
        assert self.shell is not None
        return self.shell.user_ns  # type: ignore[no-any-return]

    @magic_arguments()
    @sbatch_arguments
    @argument("--in", dest="inputs", help="variables sent to the job, e.g. df,params")
    @argument("--out", dest="outputs", help="variables brought back, e.g. summary,model")
    @argument("--wait", action="store_true", help="block until done (raise if the cell failed)")
    @argument("--profile", help="a named option set from c.SlurmLab.profiles")
    @argument("--python", help="interpreter on the cluster (default: c.SlurmLab.python)")
    @argument("--prerun", action="append", default=[], help="shell line before the cell (repeatable)")
    @argument("--postrun", action="append", default=[], help="shell line after the cell (repeatable)")
    @argument("--srun", help="run the cell under srun with these options: --srun='--ntasks=1'")
    @argument("--test-only", action="store_true", help="only say when and where it would start")
    @line_cell_magic
    def slurm(self, line: str, cell: str | None = None) -> Any:
        """Run the cell as a Slurm batch job; ``--in``/``--out`` move variables. See ``%slurm?``."""
        if cell is None:
            return self._line(line)
        try:  # shlex, unlike IPython's parse_argstring, removes the quotes: --prerun 'export A=1'
            args = self.slurm.parser.parse_args(shlex.split(line))
        except ValueError as exc:
            raise UsageError(f"%%slurm: {exc}") from None
        session = self.session
        profiles = session.lab.profiles
        if args.profile and args.profile not in profiles:
            raise UsageError(
                f"--profile: no profile {args.profile!r}; known: {', '.join(sorted(profiles)) or 'none'}"
            )
        options = {name: getattr(args, attr) for attr, name in SBATCH_ARGS.items()}
        try:
            plan = make_plan(
                cell,
                options,
                profile=profiles.get(args.profile) if args.profile else None,
                inputs=args.inputs,
                outputs=args.outputs,
                python=args.python or session.default_python,
                prerun=tuple(args.prerun),
                postrun=tuple(args.postrun),
                srun=args.srun,
            )
            if args.test_only:
                answer = session.call(will_run(session, plan))
                print(
                    f"Slurm would start it at {answer.expected_start} on {answer.nodes} "
                    f"({answer.processors} CPUs, partition {answer.partition}); no job was made"
                )
                return answer
            record = session.call(start(session, plan, self.namespace))
        except SlurmLabError as exc:
            raise UsageError(f"%%slurm: {exc.message} (nothing was submitted)") from None
        run = CellRun(session, record, self.namespace)
        self.namespace["_slurm_run"] = run
        if args.wait:
            from IPython.display import display

            display(run)
            try:
                run.wait()
            finally:
                run.echo_output()
            return run.result()
        return run

    def _line(self, line: str) -> Any:
        words = shlex.split(line)
        command, rest = (words[0], words[1:]) if words else ("", [])
        session = self.session
        try:
            if command == "queue":
                from .widgets import display_queue

                display_queue(session)
                return None
            if command == "jobs":
                return jobs_frame(
                    session.call(session.service.jobs("all" if rest[:1] == ["all"] else "mine"))
                )
            if command == "runs":
                return records_frame(session.records.all())
            if command == "attach" and rest:
                return self._attach(rest[0], "--wait" in rest[1:])
            if command == "cancel" and rest:
                from ..validation import job_ids

                results = session.call(session.service.act("cancel", job_ids(rest)))
                for r in results:
                    print(f"{r.job_id}: {'cancelled' if r.ok else r.message}")
                return None
        except SlurmLabError as exc:
            raise UsageError(f"%slurm {command}: {exc.message}") from None
        raise UsageError(LINE_USAGE)

    def _attach(self, job_id: str, wait: bool) -> Any:
        record = self.session.records.by_job(job_id)
        if record is None:
            raise UsageError(f"%slurm attach: no recorded run for job {job_id} (see %slurm runs)")
        run = CellRun(self.session, record, self.namespace)
        self.namespace["_slurm_run"] = run
        if wait:
            run.wait()
        return run
