"""The dev cluster's one exception type, in a module of its own so every other module can import it."""

from __future__ import annotations


class DevClusterError(RuntimeError):
    """A failure the user can act on; the message says what to do."""
