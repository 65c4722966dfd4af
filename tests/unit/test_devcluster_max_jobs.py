"""The dev cluster's MaxJobCount option (``up --max-jobs``; the benchmarks' 100,000-job queue)."""

from __future__ import annotations

import json
from pathlib import Path

from slurm_lab.devcluster import DevCluster
from slurm_lab.devcluster.config import DEFAULT_MAX_JOBS, ClusterSpec, Layout, Ports, render_slurm_conf


def spec(**kwargs: int) -> ClusterSpec:
    return ClusterSpec(Layout(Path("/c")), "h", "s", "r", Ports(6817), **kwargs)  # type: ignore[arg-type]


def test_the_default_is_unchanged_and_the_option_sets_max_job_count() -> None:
    default = render_slurm_conf(spec()).splitlines()
    assert f"MaxJobCount={DEFAULT_MAX_JOBS}" in default and "MaxArraySize=10001" in default
    assert "MaxJobCount=210000" in render_slurm_conf(spec(max_jobs=210_000)).splitlines()


def test_max_jobs_is_kept_in_the_folder_settings(tmp_path: Path) -> None:
    assert DevCluster(tmp_path).max_jobs == DEFAULT_MAX_JOBS
    settings = Layout(tmp_path).settings
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"max_jobs": 250_000, "port_base": 9817}))
    assert DevCluster(tmp_path).max_jobs == 250_000
