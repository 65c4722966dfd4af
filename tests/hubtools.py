"""A real multi-user JupyterHub (from PyPI) behind configurable-http-proxy (from npm) for tests.

Hub users are the dev cluster's Unix users; each server is spawned as its user by the local
process spawner and loads slurm-lab. ``carol`` has no Unix account: her server runs as
``slab-bob``, the way a container image runs every user as one shared account. ``dave``'s
server starts (as root, like the image) through the singleuser image's entrypoint with no munge
key mounted, so his spawn fails the way a misconfigured pod's does.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from slurm_lab.devcluster import DevCluster

from .helpers import free_port, stop_process, wait_until_answering

ROOT = Path(__file__).parents[1]
CHP = ROOT / "tests" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
#: Hub user -> Unix account the spawner runs the server as.
ACCOUNTS = {"slab-alice": "slab-alice", "slab-bob": "slab-bob", "carol": "slab-bob", "dave": "root"}
ENTRYPOINT = ROOT / "deploy" / "singleuser" / "slurm-lab-entrypoint"
MISSING_KEY = "/var/lib/slurm-lab/hub-test/not-mounted/munge.key"

HUB_CONFIG = """
from jupyterhub.spawner import LocalProcessSpawner

ACCOUNTS = {accounts!r}
THROUGH_ENTRYPOINT = {{"dave": {{"SLURM_LAB_MUNGE_KEY_SOURCE": {missing_key!r}}}}}


class AccountSpawner(LocalProcessSpawner):
    \"\"\"Runs each hub user's server as the Unix account ACCOUNTS names.\"\"\"

    def make_preexec_fn(self, name):
        return super().make_preexec_fn(ACCOUNTS[name])

    def user_env(self, env):
        import pwd

        entry = pwd.getpwnam(ACCOUNTS[self.user.name])
        env.update(USER=entry.pw_name, HOME=entry.pw_dir, SHELL=entry.pw_shell)
        env.update(THROUGH_ENTRYPOINT.get(self.user.name, {{}}))
        return env

    async def start(self):
        if self.user.name in THROUGH_ENTRYPOINT:
            self.cmd = [{entrypoint!r}, *self.cmd]
        return await super().start()


c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
c.JupyterHub.pid_file = "{state}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = set(ACCOUNTS)
c.JupyterHub.spawner_class = AccountSpawner
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {{"SLURM_CONF": {slurm_conf!r}}}
c.Spawner.start_timeout = 90
# Answer spawn requests at once (202) and report the outcome through the user model and the
# progress stream; a spawn that fails within the default 10 s window trips a hub bug (500).
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}
c.Spawner.http_timeout = 30  # also how long a server that died at start takes to count as failed
c.JupyterHub.services = [{{"name": "slurm-lab-test", "api_token": {service_token!r}}}]
c.JupyterHub.load_roles = [
    {{"name": "slurm-lab-test", "services": ["slurm-lab-test"],
      "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:users"]}},
]
"""


@dataclass
class Hub:
    url: str
    service_token: str
    password: str
    log: Path

    def api(self) -> httpx.Client:
        """The hub's REST API as the test's admin service."""
        return httpx.Client(
            base_url=f"{self.url}hub/api/",
            headers={"Authorization": f"token {self.service_token}"},
            timeout=60,
        )

    def spawn(self, user: str, timeout: float = 120) -> bool:
        """Ask the hub to start ``user``'s server; True once it is ready, False if the spawn failed."""
        with self.api() as api:
            r = api.post(f"users/{user}/server")
            assert r.status_code in (201, 202, 400), r.text  # 400: already running
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                model = api.get(f"users/{user}").json()
                server = model.get("servers", {}).get("", {})
                if server.get("ready"):
                    return True
                if not model.get("pending") and not server:
                    return False
                time.sleep(0.5)
        raise AssertionError(f"{user}'s server neither ready nor failed in {timeout} s:\n{self.log_tail()}")

    def start_server(self, user: str) -> None:
        assert self.spawn(user), f"{user}'s server failed to start:\n{self.log_tail()}"

    def user_token(self, user: str) -> str:
        with self.api() as api:
            r = api.post(f"users/{user}/tokens", json={"note": "slurm-lab test", "expires_in": 3600})
            assert r.status_code == 201, r.text
            return str(r.json()["token"])

    def slurm_lab(self, server_of: str, token: str) -> httpx.Client:
        """slurm-lab's API on ``server_of``'s server, through the proxy, with ``token``."""
        return httpx.Client(
            base_url=f"{self.url}user/{server_of}/slurm-lab/api/",
            headers={"Authorization": f"token {token}"},
            timeout=60,
        )

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@contextmanager
def running_hub(cluster: DevCluster) -> Iterator[Hub]:
    """Start the hub (as root, so it can spawn as each user); stop it and every server after."""
    if not CHP.exists():
        raise RuntimeError(f"{CHP} is missing: run ./dev setup (it installs tests/hub with npm)")
    state = Path("/var/lib/slurm-lab/hub-test")
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True, mode=0o700)
    port = free_port()
    hub = Hub(f"http://127.0.0.1:{port}/", secrets.token_hex(16), secrets.token_hex(8), state / "hub.log")
    (state / "jupyterhub_config.py").write_text(
        HUB_CONFIG.format(
            accounts=ACCOUNTS,
            missing_key=MISSING_KEY,
            entrypoint=str(ENTRYPOINT),
            port=port,
            hub_port=free_port(),
            proxy_api_port=free_port(),
            chp=str(CHP),
            state=state,
            password=hub.password,
            singleuser=str(Path(sys.executable).parent / "jupyterhub-singleuser"),
            slurm_conf=str(cluster.layout.conf),
            service_token=hub.service_token,
        )
    )
    with open(hub.log, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(state / "jupyterhub_config.py")],
            cwd=state,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with hub.api() as api:
            wait_until_answering(proc, lambda: api.get("").status_code == 200, "jupyterhub", hub.log_tail)
        yield hub
    finally:
        with hub.api() as api:
            for user in ACCOUNTS:
                api.delete(f"users/{user}/server")
        stop_process(proc, 30)
        shutil.rmtree(state, ignore_errors=True)
