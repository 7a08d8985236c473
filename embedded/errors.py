"""Errors of the embedded system; commands report them like every other ``UserError``."""

from __future__ import annotations

from tradeplane.runtime.errors import UserError


class EmbeddedError(UserError):
    """A problem of the embedded system the user can act on; the message says what to do."""
