"""Accounting in the dev cluster: a private MariaDB, slurmdbd, and what ``up`` registers with sacctmgr.

The argv builders and the registration plan are pure; the daemons themselves are started by cluster.py.
MariaDB runs from the cluster folder only (``--no-defaults``: never /etc/mysql/my.cnf, the system's
/var/lib/mysql or port 3306), listening on 127.0.0.1 at the port base + 4 and on its own socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .config import ACCOUNTS, DB_NAME, DB_USER, LIMITED_QOS, LIMITED_QOS_LIMITS, Layout, Ports


def install_db_argv(program: str, layout: Layout, user: str) -> list[str]:
    """Create MariaDB's system tables in the cluster folder; ``user`` (the OS user mariadbd runs as)
    may then connect as a DB admin through the socket, without a password."""
    return [
        program,
        "--no-defaults",
        f"--user={user}",
        f"--datadir={layout.db_data}",
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
    ]


def mariadbd_argv(program: str, layout: Layout, ports: Ports, user: str | None) -> list[str]:
    """mariadbd on 127.0.0.1:``ports.mariadb`` and its own socket; ``user``: switch to it (root mode)."""
    return [
        program,
        "--no-defaults",  # must come first
        f"--datadir={layout.db_data}",
        f"--socket={layout.db_socket}",
        f"--port={ports.mariadb}",
        "--bind-address=127.0.0.1",
        f"--pid-file={layout.db_dir / 'mariadbd.pid'}",
        f"--log-error={layout.logfile('mariadb')}",
        *([f"--user={user}"] if user else []),
        "--skip-name-resolve",
        # What Slurm's accounting docs ask for (slurmdbd warns otherwise), sized for a laptop.
        "--innodb-buffer-pool-size=128M",
        "--innodb-log-file-size=64M",
        "--innodb-lock-wait-timeout=900",
        "--max-connections=100",
    ]


def client_argv(program: str, layout: Layout, user: str) -> list[str]:
    """The ``mariadb`` client as DB admin ``user`` (unix-socket authentication: the OS user must match)."""
    return [program, "--no-defaults", f"--socket={layout.db_socket}", f"--user={user}", "--batch"]


def bootstrap_sql(password: str) -> str:
    """The database and the account slurmdbd uses over TCP (idempotent; resets the password)."""
    account = f"'{DB_USER}'@'127.0.0.1'"
    return "\n".join(
        [
            f"CREATE DATABASE IF NOT EXISTS {DB_NAME};",
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{password}';",
            f"ALTER USER {account} IDENTIFIED BY '{password}';",
            f"GRANT ALL ON {DB_NAME}.* TO {account};",
            "",
        ]
    )


@dataclass(frozen=True)
class Member:
    """A user's associations: ``accounts`` (the first is the default); QOS ``limited`` besides ``normal``."""

    user: str
    accounts: tuple[str, ...]
    limited_qos: bool = True


def members(me: str, rootful: bool, test_users: Iterable[str], restd_user: str) -> list[Member]:
    """Who may submit (AccountingStorageEnforce=associations): root mode's test users and slurmrestd's
    user; rootless, the calling user. root is in the ``root`` account from ``add cluster``."""
    if not rootful:
        return [Member(me, ACCOUNTS)]
    users = list(test_users)
    out = [Member(user, (ACCOUNTS[i % 2], ACCOUNTS[(i + 1) % 2])) for i, user in enumerate(users)]
    out.append(Member(restd_user, (ACCOUNTS[0],), limited_qos=False))
    if me != "root":
        out.append(Member(me, ACCOUNTS))
    return out


@dataclass
class Registered:
    """What sacctmgr already knows (from ``show cluster/qos/assoc -n -P``)."""

    clusters: set[str] = field(default_factory=set)
    qos: set[str] = field(default_factory=set)
    #: (cluster, account, user) -> that association's QOS names; user "" for the account's own association.
    assocs: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, clusters: str, qos: str, assocs: str) -> Registered:
        out = cls(
            clusters={line.strip() for line in clusters.splitlines() if line.strip()},
            qos={line.strip() for line in qos.splitlines() if line.strip()},
        )
        for line in assocs.splitlines():
            parts = line.split("|")
            if len(parts) >= 4:
                out.assocs[(parts[0], parts[1], parts[2])] = {q for q in parts[3].split(",") if q}
        return out


QUERIES = (
    ("show", "cluster", "format=cluster"),
    ("show", "qos", "format=name"),
    ("show", "assoc", "format=cluster,account,user,qos"),
)


def registration(cluster: str, known: Registered, people: list[Member]) -> list[list[str]]:
    """The ``sacctmgr -i`` argument lists that add what is missing: the cluster, the accounts, QOS
    ``limited``, and each member's associations (none when everything is there)."""
    commands: list[list[str]] = []
    if cluster not in known.clusters:
        commands.append(["add", "cluster", cluster])
    missing = [a for a in ACCOUNTS if (cluster, a, "") not in known.assocs]
    if missing:
        commands.append(
            ["add", "account", ",".join(missing), f"Cluster={cluster}", "Description=dev", "Organization=lab"]
        )
    if LIMITED_QOS not in known.qos:
        commands.append(["add", "qos", LIMITED_QOS, *LIMITED_QOS_LIMITS])
    for person in people:
        absent = [a for a in person.accounts if (cluster, a, person.user) not in known.assocs]
        if absent:
            commands.append(
                [
                    "add",
                    "user",
                    person.user,
                    f"Account={','.join(absent)}",
                    f"DefaultAccount={person.accounts[0]}",
                    f"Cluster={cluster}",
                ]
            )
        if person.limited_qos and any(
            LIMITED_QOS not in known.assocs.get((cluster, a, person.user), set()) for a in person.accounts
        ):
            commands.append(
                [
                    "modify",
                    "user",
                    "where",
                    f"name={person.user}",
                    f"cluster={cluster}",
                    "set",
                    f"qos+={LIMITED_QOS}",
                    "defaultqos=normal",
                ]
            )
    return commands
