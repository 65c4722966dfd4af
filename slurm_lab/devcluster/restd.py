"""slurmrestd in the dev cluster: how it is run and checked, its JWT key, and tokens (no daemon state).

slurmrestd refuses to run as root or as SlurmUser, so root mode runs it as a system user of its
own. It accepts only JWTs (``-a rest_auth/jwt``): every request runs as the user its token names.
"""

from __future__ import annotations

import http.client
import os
import shutil
from pathlib import Path

from .config import Layout
from .errors import DevClusterError

#: The unprivileged user slurmrestd runs as in root mode.
RESTD_USER = "slab-rest"
#: Every REST API version Slurm 22.05 serves.
OPENAPI_PLUGINS = ("openapi/v0.0.36", "openapi/v0.0.37", "openapi/v0.0.38")


def restd_argv(program: str, layout: Layout, port: int) -> list[str]:
    """slurmrestd on 127.0.0.1:``port`` and on a unix socket, accepting JWTs only."""
    return [
        program,
        "-a",
        "rest_auth/jwt",
        "-s",
        ",".join(OPENAPI_PLUGINS),
        f"127.0.0.1:{port}",
        f"unix:{layout.restd_socket}",
    ]


def restd_environment(layout: Layout, port: int) -> dict[str, str]:
    """What a REST client needs to find this slurmrestd (``SLURM_LAB_RESTD_URL`` and ``..._SOCKET``)."""
    return {
        "SLURM_LAB_RESTD_URL": f"http://127.0.0.1:{port}",
        "SLURM_LAB_RESTD_SOCKET": str(layout.restd_socket),
    }


def openapi_answers(port: int, user: str, token: str, timeout: float = 2.0) -> bool:
    """True when ``GET /openapi/v3`` answers 200 on 127.0.0.1:``port``. With ``-a rest_auth/jwt`` alone
    even this path needs the JWT headers (401 "Authentication failure" without them)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/openapi/v3", headers=auth_headers(user, token))
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def auth_headers(user: str, token: str) -> dict[str, str]:
    """The headers slurmrestd's rest_auth/jwt reads: the request runs as ``user``."""
    return {"X-SLURM-USER-NAME": user, "X-SLURM-USER-TOKEN": token}


def ensure_jwt_key(path: Path, owner: str | None) -> None:
    """Create the HS256 key once: 32 random bytes, mode 0600, owned by ``owner`` (SlurmUser) if given."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
    path.chmod(0o600)
    if owner:
        shutil.chown(path, owner, owner)


def parse_token(output: str) -> str:
    """The token in ``scontrol token`` output (a ``SLURM_JWT=<token>`` line)."""
    for line in output.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key == "SLURM_JWT" and value:
            return value
    raise DevClusterError(f"no SLURM_JWT= line in scontrol token output: {output.strip()!r}")


def last_line(log: Path) -> str:
    """The last non-empty line of ``log`` (why a daemon stopped), or '' when there is none."""
    try:
        with open(log, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 4096))
            lines = fh.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""
