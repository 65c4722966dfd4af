"""Runs one notebook cell inside a Slurm job. Copied into the run folder and started by the job
script with the cluster's Python, so it needs only the standard library and cloudpickle.

    python worker.py RUN_DIR

Reads cell.py, inputs.pkl and meta.json from RUN_DIR; writes result[-TASK].pkl atomically:
{"ok": True, "result": <last expression>, "outputs": {name: value}, "missing": [...]} or
{"ok": False, "error": "<traceback>"}. Exits 1 when the cell raised.

Every job pays for this file's start, so it loads only what a cell computing ``1 + 1`` needs
(benchmarks/bench_cells.py measures it): the C halves of the syntax tree and pickle (``_ast``,
``_pickle``: ``ast``, ``pickle``, ``json`` and ``linecache`` load re, enum and more), cloudpickle
(typing, logging, dataclasses, inspect, ...) only for values plain pickle cannot write, and
traceback only for a traceback. The cell is compiled under its file's real path, so tracebacks
and warnings read its lines from cell.py.
"""

from __future__ import annotations

import _ast
import os
import sys

try:
    import _pickle as pickle  # what pickle.load and pickle.dumps are, without pickle.py's imports
except ImportError:  # an interpreter without the C pickle
    import pickle  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing alone costs a few ms at every start
    from typing import Any

#: cloudpickle's protocol (pickle.HIGHEST_PROTOCOL since Python 3.8).
PROTOCOL = 5


def run_cell(source: str, namespace: dict[str, Any], filename: str) -> Any:
    """Execute ``source`` like IPython does: the value of a final expression is the result."""
    tree = compile(source, filename, "exec", _ast.PyCF_ONLY_AST)
    assert isinstance(tree, _ast.Module)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], _ast.Expr) else None
    assert last is None or isinstance(last, _ast.Expr)
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - running the user's cell is the point
    if last is None:
        return None
    return eval(compile(_ast.Expression(last.value), filename, "eval"), namespace)  # noqa: S307


def read_meta(path: str) -> dict[str, Any]:
    """meta.json as the kernel writes it: strings and lists of strings, which are Python literals
    too, read from their syntax tree (never run) rather than by json, which loads re and enum.
    Anything else in it is json's to read."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        tree = compile(text, path, "eval", _ast.PyCF_ONLY_AST)
        assert isinstance(tree, _ast.Expression)
        meta = _literal(tree.body)
        if isinstance(meta, dict):
            return meta
    except (SyntaxError, ValueError):
        pass
    import json

    return dict(json.loads(text))


def _literal(node: Any) -> Any:
    if isinstance(node, _ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, _ast.List):
        return [_literal(item) for item in node.elts]
    if isinstance(node, _ast.Dict) and None not in node.keys:
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    raise ValueError("not a string, list or object")


def main(run_dir: str) -> int:
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    meta = read_meta(os.path.join(run_dir, "meta.json"))
    filename = os.path.join(run_dir, "cell.py")
    with open(filename, encoding="utf-8") as fh:
        source = fh.read()
    with open(os.path.join(run_dir, "inputs.pkl"), "rb") as fh:
        # cloudpickle's own load is pickle's: inputs made by value (a function or class of the
        # notebook's) import cloudpickle as they load; plain values never need it.
        namespace = {"__name__": "__main__", **pickle.load(fh)}  # noqa: S301 - the kernel wrote it
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
    import traceback

    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _dumps(record: dict[str, Any]) -> bytes:
    """cloudpickle's bytes for ``record``, made by plain pickle when it can.

    Plain pickle writes a function or class by reference only after checking that its module
    gives back that very object, and fails otherwise: for the cell's own functions and classes
    (its ``__main__`` is this worker, which holds neither), lambdas and everything else that
    cloudpickle writes by value. Then cloudpickle does. Once the cell or its inputs loaded
    cloudpickle (a by-value input, ``register_pickle_by_value``), it writes everything.
    """
    if "cloudpickle" not in sys.modules:
        try:
            return bytes(pickle.dumps(record, protocol=PROTOCOL))
        except Exception:  # noqa: S110 - cloudpickle, below, writes what plain pickle cannot
            pass
    import cloudpickle

    try:
        return bytes(cloudpickle.dumps(record))
    except Exception:
        import traceback

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
