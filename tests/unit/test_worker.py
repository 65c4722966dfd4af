"""The cluster-side worker of %%slurm cells, run as the job runs it: ``python worker.py RUN_DIR``."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import cloudpickle

from slurm_lab.cells import worker

WORKER = files("slurm_lab.cells").joinpath("worker.py").read_bytes()


def run_worker(
    tmp_path: Path, source: str, inputs: dict[str, Any] | None = None, out: str = ""
) -> tuple[int, Any]:
    """Lay out a run folder as cells/run.py does, run the worker; its exit code and result."""
    (tmp_path / "worker.py").write_bytes(WORKER)
    (tmp_path / "cell.py").write_text(source)
    (tmp_path / "inputs.pkl").write_bytes(cloudpickle.dumps(inputs or {}))
    meta = {"run_id": "20260101-000000-abcdef", "out": [n for n in out.split(",") if n]}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    code = subprocess.run(
        [sys.executable, str(tmp_path / "worker.py"), str(tmp_path)], check=False
    ).returncode
    return code, cloudpickle.loads((tmp_path / "result.pkl").read_bytes())


def test_the_last_expression_is_the_result_without_loading_cloudpickle(tmp_path: Path) -> None:
    source = "import sys\nx = 1 + 1\nheavy = ('cloudpickle', 'ast', 'typing', 'traceback', 'pickle', 'json', 'linecache')\nloaded = sorted(m for m in heavy if m in sys.modules)\nx"
    code, result = run_worker(tmp_path, source, out="x,loaded,nope")
    assert code == 0
    assert result == {"ok": True, "result": 2, "outputs": {"x": 2, "loaded": []}, "missing": ["nope"]}


def test_the_cells_own_functions_classes_and_lambdas_come_back_by_value(tmp_path: Path) -> None:
    source = (
        "def main(x):\n    return x + 1\n"  # the worker's own main(): pickle by reference would be wrong
        "class Point:\n    def __init__(self, x):\n        self.x = x\n"
        "square = lambda v: v * v\np = Point(3)\nmain"
    )
    code, result = run_worker(tmp_path, source, out="square,p,Point")
    assert code == 0 and result["ok"]
    assert result["result"](1) == 2
    assert result["outputs"]["square"](4) == 16 and result["outputs"]["p"].x == 3
    assert result["outputs"]["Point"].__name__ == "Point"


def test_inputs_made_by_value_load_and_go_back(tmp_path: Path) -> None:
    code, result = run_worker(tmp_path, "g = lambda v: f(v) * 10\ng(2)", {"f": lambda v: v + 1}, out="g")
    assert code == 0 and result["result"] == 30
    assert result["outputs"]["g"].__globals__["f"](1) == 2


def test_values_of_importable_modules_go_by_reference(tmp_path: Path) -> None:
    code, result = run_worker(
        tmp_path, "import fractions, os\nv = fractions.Fraction(1, 3)\nos.path.join", out="v"
    )
    assert code == 0 and result["result"] is __import__("os").path.join
    assert result["outputs"]["v"] == __import__("fractions").Fraction(1, 3)


def test_a_failing_cell_reports_its_own_frames(tmp_path: Path) -> None:
    code, result = run_worker(tmp_path, "def inner():\n    return 1 / 0\ninner()")
    assert code == 1 and not result["ok"]
    assert "ZeroDivisionError" in result["error"] and "return 1 / 0" in result["error"]
    assert "worker.py" not in result["error"]


def test_outputs_that_cannot_be_pickled_say_so(tmp_path: Path) -> None:
    _, result = run_worker(tmp_path, "import threading\nlock = threading.Lock()", out="lock")
    assert not result["ok"]
    assert "could not be pickled" in result["error"] and "lock" in result["error"]


def test_meta_is_read_without_json_and_anything_else_by_json(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"run_id": "20260101-000000-abcdef", "out": ["a", "b_2"]}))
    assert worker.read_meta(str(path)) == {"run_id": "20260101-000000-abcdef", "out": ["a", "b_2"]}
    path.write_text(json.dumps({"run_id": 'x\u00e9"', "out": [], "n": 1, "on": True, "none": None}))
    assert worker.read_meta(str(path)) == {"run_id": 'x\u00e9"', "out": [], "n": 1, "on": True, "none": None}


def test_warnings_and_tracebacks_show_the_cells_own_lines(tmp_path: Path) -> None:
    code, result = run_worker(
        tmp_path, "import warnings\nwarnings.warn('careful')  # this line\nundefined_name"
    )
    assert code == 1 and "NameError" in result["error"] and f"{tmp_path}/cell.py" in result["error"]
    assert "undefined_name" in result["error"]
    warned = subprocess.run(
        [sys.executable, str(tmp_path / "worker.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    assert "UserWarning: careful" in warned and "# this line" in warned
