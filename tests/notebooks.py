"""Execute real notebooks in a real kernel (nbclient), configured like the server."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from slurm_lab.devcluster import DevCluster


@contextmanager
def kernel_env(cluster: DevCluster, extra_config: str = "") -> Iterator[dict[str, str]]:
    """Environment for a kernel that reads a jupyter_server_config.py like a server would."""
    with tempfile.TemporaryDirectory(prefix="slurm-lab-kernel-") as folder:
        config = Path(folder) / "config"
        config.mkdir()
        (config / "jupyter_server_config.py").write_text(
            f"c.SlurmLab.slurm_conf = {str(cluster.layout.conf)!r}\nc.SlurmLab.cache_ttl = 0.5\n"
            f"c.SlurmLab.runs_dir = {str(Path(folder) / 'runs')!r}\n{extra_config}\n"
        )
        yield {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(Path(folder) / "data"),
        }


def notebook(*cells: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])


def execute(
    nb: nbformat.NotebookNode, env: dict[str, str], allow_errors: bool = False
) -> nbformat.NotebookNode:
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors)
    client.km = client.create_kernel_manager()
    client.km.extra_env = env  # type: ignore[attr-defined]
    old = dict(os.environ)
    os.environ.update(env)
    try:
        return client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)


def text_of(cell: nbformat.NotebookNode) -> str:
    """All text a cell printed or returned (stream + text/plain + error traceback)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback))
    return "".join(parts)
