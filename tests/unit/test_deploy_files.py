"""The deploy files agree with each other and with the code: mounts land where the entrypoint
looks, embedded config sets real traits, embedded Python compiles."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets.config import PyFileConfigLoader

from slurm_lab.config import SlurmLab
from slurm_lab.hosts.ssh import SSHHost

DEPLOY = Path(__file__).parents[2] / "deploy"
ENTRYPOINT = (DEPLOY / "singleuser" / "slurm-lab-entrypoint").read_text()


def entrypoint_default(variable: str) -> str:
    match = re.search(rf"\${{{variable}:-([^}}]+)}}", ENTRYPOINT)
    assert match, variable
    return match.group(1)


def values(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "z2jh" / name).read_text())  # type: ignore[no-any-return]


def mount_of(singleuser: dict[str, Any], volume: str) -> str:
    (mount,) = [m for m in singleuser["storage"]["extraVolumeMounts"] if m["name"] == volume]
    return str(mount["mountPath"])


def test_cli_values_mount_the_files_where_the_entrypoint_reads_them() -> None:
    su = values("values.yaml")["singleuser"]
    volumes = {v["name"]: v for v in su["storage"]["extraVolumes"]}
    key_dir = mount_of(su, "slurm-munge-key")
    conf_dir = mount_of(su, "slurm-conf")
    assert f"{key_dir}/munge.key" == entrypoint_default("SLURM_LAB_MUNGE_KEY_SOURCE")
    assert f"{conf_dir}/slurm.conf" == entrypoint_default("SLURM_LAB_SLURM_CONF_SOURCE")
    assert volumes["slurm-munge-key"]["secret"]["defaultMode"] == 0o400
    assert su["uid"] == 0, "the entrypoint must start as root"
    assert su["extraEnv"]["SLURM_LAB_CONTROLLER_CHECK"] in {"fail", "warn", "off"}


def test_cli_values_identity_hook_compiles() -> None:
    hook = values("values.yaml")["hub"]["extraConfig"]["slurm-lab-identity"]
    compile(hook, "slurm-lab-identity", "exec")
    assert "NB_UID" in hook and "pre_spawn_hook" in hook


def test_ssh_values_config_sets_real_traits_and_points_at_the_mounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    su = values("values-ssh.yaml")["singleuser"]
    assert su["extraEnv"]["SLURM_LAB_SETUP"] == "none"
    assert "uid" not in su, "the SSH variant runs as the notebook user"
    extra = su["extraFiles"]["slurm-lab-config"]
    assert extra["mountPath"].startswith("/usr/local/etc/jupyter/")
    (tmp_path / "jupyter_server_config.py").write_text(extra["stringData"])
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(tmp_path)).load_config()
    for cls in (SlurmLab, SSHHost):
        known = set(cls.class_trait_names(config=True))
        assert set(config[cls.__name__]) <= known, cls.__name__
    ssh = SSHHost(config=config)
    assert ssh.username == "alice"
    assert Path(ssh.client_keys[0]).parent == Path(mount_of(su, "slurm-lab-ssh"))
    assert Path(ssh.known_hosts).parent == Path(mount_of(su, "slurm-login-known-hosts"))


def test_dockerfile_installs_the_entrypoint_in_front_of_start_sh() -> None:
    dockerfile = (DEPLOY / "singleuser" / "Dockerfile").read_text()
    assert "deploy/singleuser/slurm-lab-entrypoint /usr/local/bin/slurm-lab-entrypoint" in dockerfile
    assert 'ENTRYPOINT ["tini", "-g", "--", "slurm-lab-entrypoint", "start.sh"]' in dockerfile
    assert re.search(r"apt-get install .*slurm-client munge", dockerfile)
