"""The JSON Web Token slurmrestd wants: from settings, a file, or ``$SLURM_JWT``; read for its
user and expiry; renewed with ``scontrol token`` before it expires, where the site allows it."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from ..errors import BackendUnavailable


@dataclass(frozen=True)
class Token:
    value: str
    user: str | None  # the "sun" claim: whom slurmrestd acts as
    expires: float | None  # the "exp" claim (Unix time)


def read_token(value: str) -> Token:
    """A token with its claims, when its payload is readable (no signature check: that is Slurm's)."""
    value = value.strip()
    try:
        payload = value.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        user, expires = claims.get("sun"), claims.get("exp")
    except (IndexError, ValueError, binascii.Error, AttributeError):
        user, expires = None, None
    return Token(
        value, user if isinstance(user, str) else None, float(expires) if isinstance(expires, int) else None
    )


class TokenSource:
    """Where the token comes from (for messages), and a fresh one on every request."""

    def __init__(
        self,
        token: str,
        token_file: str,
        renew: Callable[[], Awaitable[str]] | None,
        renew_before: float = 300.0,
    ) -> None:
        self.token_file = os.path.expanduser(token_file) if token_file else ""
        if token:
            self.source, self._token = "c.SlurmrestdScheduler.token", read_token(token)
        elif self.token_file:
            self.source, self._token = f"the token file {self.token_file}", Token("", None, None)
        elif os.environ.get("SLURM_JWT"):
            self.source, self._token = "$SLURM_JWT", read_token(os.environ["SLURM_JWT"])
        else:
            self.source, self._token = "nowhere", Token("", None, None)
        self._mtime = -1.0
        self._renew = renew
        self.renew_before = renew_before
        if self.token_file:
            with contextlib.suppress(BackendUnavailable):
                self._reload_file()  # the user is known from the start; a missing file is said later

    @property
    def user(self) -> str | None:
        """The user the current token names ("sun"), if it is readable."""
        return self._token.user

    async def current(self) -> Token:
        """The token to send now: the file re-read when it changed, renewed when about to expire."""
        if self.token_file:
            self._reload_file()
        if not self._token.value:
            raise BackendUnavailable(
                "slurmrestd needs a JWT: set c.SlurmrestdScheduler.token or token_file, or $SLURM_JWT"
            )
        expires = self._token.expires
        if expires is not None and expires - time.time() < self.renew_before and self._renew is not None:
            try:
                self._token = read_token(await self._renew())
                self.source = "scontrol token (renewed)"
            except Exception as exc:
                if expires <= time.time():
                    raise BackendUnavailable(
                        f"the JWT from {self.source} expired at {_iso(expires)} and renewing it "
                        f"with scontrol token failed: {exc}"
                    ) from None
        elif expires is not None and expires <= time.time():
            raise BackendUnavailable(
                f"the JWT from {self.source} expired at {_iso(expires)}; provide a new one"
            )
        return self._token

    def _reload_file(self) -> None:
        try:
            mtime = os.stat(self.token_file).st_mtime
            if mtime != self._mtime:
                with open(self.token_file, encoding="utf-8") as fh:
                    self._token = read_token(fh.read())
                self._mtime = mtime
        except OSError as exc:
            raise BackendUnavailable(
                f"cannot read the JWT from {self.token_file}: {exc.strerror or exc}"
            ) from None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).isoformat(timespec="seconds")
