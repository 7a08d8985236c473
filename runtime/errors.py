"""The one error type a command reports as a clear message instead of a traceback.

Every plane and the embedded system raise it (or a subclass) for problems the user can act on, so
one handler (``runtime.console.user_errors``) serves every command without knowing who raised it.
"""

from __future__ import annotations


class UserError(RuntimeError):
    """A problem the user can act on; its message says what happened and what to do."""
