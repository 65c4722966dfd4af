"""Whose jobs are these? The account Slurm sees for this server, checked against the hub user.

Behind JupyterHub a server can run as an account that is not its user's (a container image's
shared ``jovyan``, an arbitrary uid); Slurm would then list and act on that account's jobs. We
refuse with a message that says so instead of showing an empty or someone else's queue.
"""

from __future__ import annotations

import os
import pwd

from .errors import UnknownUser

ADVICE = (
    "Ask your JupyterHub admin to start servers as each user's cluster account (slurm-lab README, Deploy)."
)


def local_account() -> str:
    """The Unix account this process runs as, or its bare uid when the uid has no account."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def identity_problem(account: str, hub_user: str | None) -> UnknownUser | None:
    """Why Slurm's view of ``account`` is not the hub user's own, or None when it is."""
    if account.isdigit():
        return UnknownUser(
            f"This server runs as uid {account}, which has no Unix account here, so Slurm cannot "
            f"tell whose jobs these are. {ADVICE}",
            user=account,
        )
    if hub_user and hub_user != account:
        return UnknownUser(
            f"JupyterHub user '{hub_user}' is not the Unix account this server runs as "
            f"('{account}'): Slurm would show and act on the jobs of '{account}', not yours. {ADVICE}",
            user=account,
            hub_user=hub_user,
        )
    return None


def hub_identity_problem(account: str, check_hub_user: bool) -> UnknownUser | None:
    """:func:`identity_problem` for this process: its hub user is ``$JUPYTERHUB_USER``, which
    JupyterHub sets for the server and its kernels (checked only when ``check_hub_user``)."""
    return identity_problem(account, os.environ.get("JUPYTERHUB_USER") if check_hub_user else None)
