"""BingX request signing, shared by the client (which signs) and the simulator (which verifies).

BingX signs ``k=v&k=v`` over the raw (not URL-encoded) values with HMAC-SHA256 and the hex digest
goes into ``signature``. The docs say "without sorting" but their own example is sorted, so the
client always sends its parameters sorted a-z and signs exactly what it sends; the server accepts a
signature over the parameters in the order they arrived, which covers both readings.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from decimal import Decimal
from urllib.parse import quote

Param = str | int | bool | Decimal


def render(value: Param) -> str:
    """The wire form of one value: booleans as BingX spells them, Decimals never in exponent form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, float):
        raise TypeError("float parameters are not sent to a venue; use Decimal")
    return str(value)


def ordered(params: Mapping[str, Param | None]) -> list[tuple[str, str]]:
    """Parameters sorted by key, rendered, with unset (None) values dropped."""
    return [(key, render(value)) for key, value in sorted(params.items()) if value is not None]


def payload(pairs: Iterable[tuple[str, str]]) -> str:
    """The string that is signed: raw values, in the given order."""
    return "&".join(f"{key}={value}" for key, value in pairs)


def signature(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def encode(pairs: Iterable[tuple[str, str]]) -> str:
    """The query string as sent: values URL-encoded after signing, keys never."""
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in pairs)


def signed_query(params: Mapping[str, Param | None], secret: str) -> str:
    """Sorted, encoded query string with ``signature`` appended, ready to send."""
    pairs = ordered(params)
    return f"{encode(pairs)}&signature={signature(secret, payload(pairs))}"


def verify(secret: str, received: Iterable[tuple[str, str]], claimed: str) -> bool:
    """Server side: the decoded parameters in arrival order (``signature`` excluded) against a claim."""
    pairs = [(key, value) for key, value in received if key != "signature"]
    expected = signature(secret, payload(pairs))
    return hmac.compare_digest(expected, claimed.lower())
