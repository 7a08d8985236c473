"""Parsing of single raw BingX fields, with errors that name the BingX field.

BingX serves the same field as a JSON number in one place and a string in another, and booleans as
``"true"``/``"false"`` strings; these helpers accept each documented spelling and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeplane.runtime.millis import TimeRangeError, check_ms


class MetadataInvalid(ValueError):
    """A venue metadata field is missing or unusable; trading on the instrument must stop."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def required(raw: Mapping[str, Any], name: str) -> Any:
    value = raw.get(name)
    if value is None or value == "":
        raise MetadataInvalid(name, "missing")
    return value


def to_decimal(name: str, value: Any) -> Decimal:
    """``Decimal(str(x))`` for numbers, Decimals and numeric strings; never through float arithmetic."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise MetadataInvalid(name, f"not a number ({value!r})")
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        raise MetadataInvalid(name, f"not a number ({value!r})") from None
    if not parsed.is_finite():
        raise MetadataInvalid(name, f"not a finite number ({value!r})")
    return parsed


def to_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise MetadataInvalid(name, f"not an integer ({value!r})")
    try:
        parsed = to_decimal(name, value)
    except MetadataInvalid:
        raise MetadataInvalid(name, f"not an integer ({value!r})") from None
    if parsed != parsed.to_integral_value():
        raise MetadataInvalid(name, f"not an integer ({value!r})")
    return int(parsed)


def to_epoch_ms(name: str, value: Any) -> int:
    milliseconds = to_int(name, value)
    if milliseconds < 0:
        raise MetadataInvalid(name, f"negative timestamp ({value!r})")
    try:
        return check_ms(milliseconds, name)
    except TimeRangeError as error:
        raise MetadataInvalid(name, str(error)) from None


def to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise MetadataInvalid(name, f"not a boolean ({value!r})")


def optional_decimal(raw: Mapping[str, Any], name: str) -> Decimal | None:
    value = raw.get(name)
    return None if value is None or value == "" else to_decimal(name, value)


def optional_int(raw: Mapping[str, Any], name: str) -> int | None:
    value = raw.get(name)
    return None if value is None or value == "" else to_int(name, value)
