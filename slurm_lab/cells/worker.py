"""Runs one notebook cell inside a Slurm job. Copied into the run folder and started by the job
script with the cluster's Python, so it needs only the standard library and cloudpickle.

    python worker.py RUN_DIR

Reads cell.py, inputs.pkl and meta.json from RUN_DIR; writes result[-TASK].pkl atomically:
{"ok": True, "result": <last expression>, "outputs": {name: value}, "missing": [...]} or
{"ok": False, "error": "<traceback>"}. Exits 1 when the cell raised.
"""

from __future__ import annotations

import ast
import json
import linecache
import os
import sys
import traceback
from typing import Any

import cloudpickle


def run_cell(source: str, namespace: dict[str, Any], filename: str) -> Any:
    """Execute ``source`` like IPython does: the value of a final expression is the result."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    assert last is None or isinstance(last, ast.Expr)
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - running the user's cell is the point
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), filename, "eval"), namespace)  # noqa: S307


def main(run_dir: str) -> int:
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    with open(os.path.join(run_dir, "meta.json")) as fh:
        meta = json.load(fh)
    with open(os.path.join(run_dir, "cell.py")) as fh:
        source = fh.read()
    with open(os.path.join(run_dir, "inputs.pkl"), "rb") as fh:
        namespace = {"__name__": "__main__", **cloudpickle.load(fh)}
    filename = f"<slurm cell {meta['run_id']}>"
    try:
        result = run_cell(source, namespace, filename)
        wanted = meta["out"]
        record = {
            "ok": True,
            "result": result,
            "outputs": {name: namespace[name] for name in wanted if name in namespace},
            "missing": [name for name in wanted if name not in namespace],
        }
        payload = _dumps(record)
    except BaseException as exc:
        payload = _dumps({"ok": False, "error": cell_traceback(exc, filename)})
        record = {"ok": False}
    # Everything the cell printed is in the log files before the result says "done".
    sys.stdout.flush()
    sys.stderr.flush()
    name = f"result-{task}.pkl" if task is not None else "result.pkl"
    tmp = os.path.join(run_dir, name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, os.path.join(run_dir, name))
    return 0 if record["ok"] else 1


def cell_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the cell's own frames on: this worker's frames are noise to the user."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _dumps(record: dict[str, Any]) -> bytes:
    try:
        return bytes(cloudpickle.dumps(record))
    except Exception:
        return bytes(
            cloudpickle.dumps(
                {
                    "ok": False,
                    "error": "the cell ran, but its outputs could not be pickled:\n" + traceback.format_exc(),
                }
            )
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
