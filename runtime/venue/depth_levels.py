"""Order-book levels as BingX sends them: ``[["price","qty"], ...]`` with decimal strings.

A BTC ``incrDepth`` push carries hundreds of levels, several times a second, and the ingestor must
keep up with the wire: converting every price and quantity to ``Decimal`` (or running a regular
expression per string) costs more than decoding the whole frame. So levels are checked on the JSON
text as received, with a few whole-buffer passes that run in C:

1. deleting every digit and dot must leave exactly ``[["",""],["",""],...]``: a list of pairs of
   strings made only of digits and dots (this also rules out anything that could inject JSON);
2. the same text without its quotes must then be valid JSON: each string is a JSON number, so it
   has digits, at most one dot, digits on both sides of it, and no superfluous leading zero;
3. no price is zero.

Together these accept only plain non-negative decimals with a positive price. Text they refuse
(spaces, exponents, ``.5``) is not necessarily wrong, so it goes through the exact check (each
string through ``Decimal``) and, if that passes, is re-written canonically; only what the exact
check refuses is an error. The levels stay text: the store keeps them verbatim and the book keys
on the strings, and ``decimals`` gives exact values to whoever needs numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import msgspec

PAIR = b'["",""]'
_DIGITS_AND_DOT = b"0123456789."
_ZERO_PRICE = re.compile(rb"\[0(?:\.0+)?,")


_NUMBERS = msgspec.json.Decoder(msgspec.Raw)
"""Decoding into Raw validates a value's JSON syntax (numbers included) without building it."""
_PAIRS = msgspec.json.Decoder(list[tuple[str, str]])
_ENCODER = msgspec.json.Encoder()


class LevelsInvalid(ValueError):
    """The levels are not a list of [positive price, non-negative quantity] decimal strings."""


@lru_cache(maxsize=1024)
def _skeleton(count: int) -> bytes:
    return b"[" + b",".join([PAIR] * count) + b"]"


def _is_plain(text: bytes) -> bool:
    """The fast check (steps 1-3 of the module docstring); False means "ask the exact check"."""
    shape = text.translate(None, _DIGITS_AND_DOT)
    count = (len(shape) - 1) // (len(PAIR) + 1)  # n pairs: 8n + 1 bytes
    if shape != _skeleton(count) or (count == 0 and text != b"[]"):  # "[1]" has the shape of "[]"
        return False
    numbers = text.translate(None, b'"')
    try:
        _NUMBERS.decode(numbers)
    except msgspec.DecodeError:
        return False
    return _ZERO_PRICE.search(numbers) is None


def _exact(text: bytes) -> bytes:
    """Every string through ``Decimal``; the canonical text of the same values, or LevelsInvalid."""
    try:
        pairs = _PAIRS.decode(text)
    except msgspec.DecodeError as error:
        raise LevelsInvalid(f"levels are not a list of [price, qty] strings: {error}") from None
    canonical: list[tuple[str, str]] = []
    for price_text, qty_text in pairs:
        try:
            price, qty = Decimal(price_text), Decimal(qty_text)
        except InvalidOperation:
            raise LevelsInvalid(f"level [{price_text!r}, {qty_text!r}] is not two decimals") from None
        if not (price.is_finite() and qty.is_finite()) or price <= 0 or qty < 0:
            raise LevelsInvalid(f"level [{price_text}, {qty_text}] needs price > 0 and qty >= 0")
        canonical.append((format(price, "f"), format(qty, "f")))
    return _ENCODER.encode(canonical)


def checked(text: bytes) -> bytes:
    """``text`` if it is plain valid levels, else their canonical text; LevelsInvalid if invalid.
    ``text`` is one JSON value (a ``msgspec.Raw`` span of a decoded frame always is)."""
    return text if _is_plain(text) else _exact(text)


def pairs(text: bytes) -> list[tuple[str, str]]:
    """(price, qty) strings of checked levels, in the order sent."""
    return _PAIRS.decode(text)


def decimals(text: bytes) -> tuple[tuple[Decimal, Decimal], ...]:
    """Exact values of checked levels."""
    return tuple((Decimal(price), Decimal(qty)) for price, qty in _PAIRS.decode(text))


def is_zero(quantity: str) -> bool:
    """For a checked quantity string: it deletes the level (``0``, ``0.000``)."""
    return not quantity.strip("0.")
