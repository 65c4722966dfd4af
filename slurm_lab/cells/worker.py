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
    try:
        result = run_cell(source, namespace, f"<slurm cell {meta['run_id']}>")
        wanted = meta["out"]
        record = {
            "ok": True,
            "result": result,
            "outputs": {name: namespace[name] for name in wanted if name in namespace},
            "missing": [name for name in wanted if name not in namespace],
        }
        payload = _dumps(record)
    except BaseException:
        payload = _dumps({"ok": False, "error": traceback.format_exc()})
        record = {"ok": False}
    name = f"result-{task}.pkl" if task is not None else "result.pkl"
    tmp = os.path.join(run_dir, name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, os.path.join(run_dir, name))
    return 0 if record["ok"] else 1


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
