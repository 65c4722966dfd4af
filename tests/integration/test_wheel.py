"""The wheel the singleuser image installs carries everything a server needs, with no source tree."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_wheel_has_extension_config_and_runtime_files(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = tmp_path.glob("slurm_lab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.data/data/"
    enable = zipfile.ZipFile(wheel).read(f"{data}etc/jupyter/jupyter_server_config.d/slurm_lab.json")
    assert json.loads(enable) == {"ServerApp": {"jpserver_extensions": {"slurm_lab": True}}}
    lab = f"{data}share/jupyter/labextensions/slurm-lab/"
    assert {f"{lab}package.json", f"{lab}install.json"} <= names
    assert any(n.startswith(f"{lab}static/remoteEntry.") for n in names)
    assert {"slurm_lab/openapi.yaml", "slurm_lab/cells/worker.py", "slurm_lab/identity.py"} <= names
    assert not any(n.startswith(("tests/", "deploy/", "binder/")) for n in names)
