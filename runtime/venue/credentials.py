"""An API key pair in memory. It comes only from a Kubernetes Secret or the environment, and its
repr, str and pydantic/JSON forms never show the secret, so it cannot leak into a log line,
a status field or an exception message by accident."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

API_KEY_ENV = "TRADEPLANE_VENUE_API_KEY"
SECRET_KEY_ENV = "TRADEPLANE_VENUE_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret_key: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.api_key or not self.secret_key:
            raise ValueError("both the API key and the secret key must be non-empty")

    def __repr__(self) -> str:
        return f"Credentials(api_key={mask(self.api_key)!r}, secret_key='***')"

    __str__ = __repr__

    @classmethod
    def from_env(cls) -> Credentials | None:
        """Credentials from the environment, or None when neither variable is set."""
        api_key = os.environ.get(API_KEY_ENV, "")
        secret_key = os.environ.get(SECRET_KEY_ENV, "")
        if not api_key and not secret_key:
            return None
        if not api_key or not secret_key:
            raise ValueError(f"set both {API_KEY_ENV} and {SECRET_KEY_ENV}, or neither")
        return cls(api_key, secret_key)


def mask(value: str) -> str:
    """The first four characters and a fixed tail: enough to tell keys apart, not to use one."""
    return f"{value[:4]}***" if len(value) > 8 else "***"
