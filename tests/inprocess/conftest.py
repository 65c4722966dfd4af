"""The in-process tier: a real Jupyter server in the test's own event loop (pytest-jupyter's
``jp_fetch``) with slurm-lab's handlers, service, queue, caches, guard and idempotency store for
real, and only the scheduler faked (fake.py). No cluster, no subprocess, no network but loopback.

pytest-jupyter's fixtures (and its hooks, which run every ``async def`` test of this folder in the
server's loop) are imported here rather than named in the root conftest's ``pytest_plugins``: so
they apply to this folder only, and the other tiers keep pytest-asyncio and their real HOME.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from traitlets.config import Config

from slurm_lab.service import SlurmLabService

from .fake import FakeScheduler
from .support import CACHE_TTL, RETRY_AFTER, Api, Reply


@pytest.fixture
def lab_config() -> dict[str, Any]:
    """Extra ``c.SlurmLab`` settings; override with ``@pytest.mark.parametrize("lab_config", [...])``."""
    return {}


@pytest.fixture
def lab_env() -> dict[str, str]:
    """Environment the server starts in (e.g. JUPYTERHUB_USER); override like lab_config."""
    return {}


@pytest.fixture
def jp_server_config(
    tmp_path: Path, lab_config: dict[str, Any], lab_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Config:
    for name, value in lab_env.items():
        monkeypatch.setenv(name, value)
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"slurm_lab": True, "jupyter_server_terminals": False}},
            "SlurmLab": {
                # "slurmrestd" only to have no host: the fake reaches no machine at all.
                "backend": "slurmrestd",
                "scheduler_class": "tests.inprocess.fake.FakeScheduler",
                "cache_ttl": CACHE_TTL,
                "push_interval": CACHE_TTL,
                "retry_after": RETRY_AFTER,
                "idempotency_file": str(tmp_path / "idempotency.jsonl"),
                "check_hub_user": False,
                **lab_config,
            },
        }
    )


@pytest.fixture
def service(jp_serverapp: Any) -> SlurmLabService:
    return jp_serverapp.web_app.settings["slurm_lab_service"]  # type: ignore[no-any-return]


@pytest.fixture
def fake(service: SlurmLabService) -> FakeScheduler:
    assert isinstance(service.scheduler, FakeScheduler)
    return service.scheduler


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    """``await api("GET", "jobs", params={...})`` -> Reply, whatever the status (no raising)."""

    async def call(
        method: str,
        *path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, bytes | str) else json.dumps(body)
        elif method == "POST":
            kwargs["body"] = b""
        response = await jp_fetch("slurm-lab", "api", *path, params=params, headers=headers, **kwargs)
        return Reply(response.code, response.headers, response.body or b"")

    return call
