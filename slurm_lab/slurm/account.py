"""The user's share and limits, from ``scontrol show assoc_mgr`` and ``sshare``. Pure.

assoc_mgr prints each limit as ``LIMIT(USED)`` (``N`` for no limit), TRES limits as lists
(``GrpTRESMins=cpu=600(81),mem=N(0)``); only the limits actually set are kept, with what is
used and what is left.
"""

from __future__ import annotations

import re

from ..models import AccountInfo, Association, Limit, QosLimits

_TOKEN = re.compile(r"([A-Za-z]+)=(\S*)")
_ITEM = re.compile(r"(?:([\w/]+)=)?([^(),=]+)\(([^)]*)\)")
_LIMIT_KEYS = re.compile(r"^(Grp|Max)")


def _limits(lines: list[str]) -> list[Limit]:
    out = []
    for line in lines:
        for key, value in _TOKEN.findall(line):
            if not _LIMIT_KEYS.match(key):
                continue
            for resource, limit, used in _ITEM.findall(value):
                if limit == "N" or not _number(limit) or not _number(used):
                    continue
                name = f"{key} {resource}" if resource else key
                cap, spent = float(limit), float(used)
                out.append(Limit(name, cap, spent, max(0.0, cap - spent)))
    return out


def _number(text: str) -> bool:
    return re.fullmatch(r"\d+(\.\d+)?", text) is not None


def _blocks(text: str, start: str) -> list[list[str]]:
    """Records that begin with a ``start`` line and go on in indented lines."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(start):
            current = [line]
            blocks.append(current)
        elif current is not None and line.startswith(" "):
            current.append(line)
        elif line.strip():
            current = None
    return blocks


def parse_shares(text: str) -> dict[str, tuple[float | None, float | None]]:
    """``sshare -U -P -n -o Account,User,RawShares,NormShares,RawUsage,EffectvUsage,FairShare``:
    account -> (fairshare, raw usage)."""
    out = {}
    for line in text.splitlines():
        f = line.strip().split("|")
        if len(f) >= 7 and f[0]:
            out[f[0].strip()] = (_float(f[6]), _float(f[4]))
    return out


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_account(text: str, shares_text: str, user: str, uid: int | None) -> AccountInfo:
    """The user's associations (their own records) and the QOS with limits on them."""
    shares = parse_shares(shares_text)
    associations = []
    for block in _blocks(text, "ClusterName="):
        head = dict(_TOKEN.findall(block[0]))
        if not head.get("UserName", "").startswith(f"{user}("):
            continue
        account = head.get("Account", "")
        body = " ".join(block[1:])
        fairshare, usage = shares.get(account, (None, None))
        associations.append(
            Association(
                account=account,
                partition=head.get("Partition") or None,
                is_default="DefAssoc=Yes" in body,
                fairshare=fairshare,
                raw_usage=usage,
                limits=_limits(block[1:]),
            )
        )
    qos = []
    for block in _blocks(text, "QOS="):
        name = block[0].split("=", 1)[1].split("(")[0]
        lines, mine = [], True
        for line in block[1:]:
            stripped = line.strip()
            if stripped in ("Account Limits", "User Limits"):
                mine = stripped == "User Limits"
                continue
            if stripped.isdigit() or (stripped and "=" not in stripped):
                mine = stripped == str(uid) or stripped == user
                continue
            if mine:
                lines.append(line)
        limits = _limits(lines)
        if limits:
            qos.append(QosLimits(name, limits))
    return AccountInfo(user, associations, qos)
