"""Errors of the embedded system that the CLI reports as one clear message, without a traceback."""

from __future__ import annotations


class EmbeddedError(RuntimeError):
    """A problem the user can act on; its message says what happened and what to do."""
