"""Funding: charged only at actual settlement instants, on mark notional, once per settlement.

A position pays (or receives) at settlement ``t`` exactly when it is held going into ``t``: the
position in effect just before ``t`` is charged. So a position open across a settlement is charged
once, one opened after it (or exactly at it) is not, and one closed exactly at ``t`` is. This is the
same half-open convention, ``after < t <= until``, that the venue simulator and BingX's funding
history use. Amounts are cash flows to the account: negative means paid.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

YEAR = timedelta(days=365)


class Settlement(NamedTuple):
    """One published funding settlement: the rate and mark that apply at ``time``."""

    time: datetime
    rate: Decimal
    mark_price: Decimal


class PositionChange(NamedTuple):
    """From ``time`` on, the signed position (coin, + long, - short) is ``quantity``."""

    time: datetime
    quantity: Decimal


class FundingCharge(NamedTuple):
    time: datetime
    quantity: Decimal
    mark_price: Decimal
    rate: Decimal
    amount: Decimal


def funding_payment(signed_quantity: Decimal, mark_price: Decimal, rate: Decimal) -> Decimal:
    """F = -s * |Q| * mark * rate: with a positive rate longs pay and shorts receive."""
    for name, value in (("signed_quantity", signed_quantity), ("mark_price", mark_price), ("rate", rate)):
        if not isinstance(value, Decimal):
            raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if mark_price <= 0:
        raise ValueError(f"mark price {mark_price} is not positive")
    return -(signed_quantity * mark_price * rate)


def funding_between(
    path: Sequence[PositionChange], settlements: Iterable[Settlement]
) -> tuple[FundingCharge, ...]:
    """The charges a position path incurs at the given settlements (flat before the first change)."""
    changes = list(path)
    if any(later.time < earlier.time for earlier, later in itertools.pairwise(changes)):
        raise ValueError("position changes must be in time order")
    charges: list[FundingCharge] = []
    for settlement in sorted(settlements, key=lambda event: event.time):
        held = Decimal(0)
        for change in changes:
            if change.time >= settlement.time:
                break
            held = change.quantity
        if held:
            amount = funding_payment(held, settlement.mark_price, settlement.rate)
            charges.append(
                FundingCharge(settlement.time, held, settlement.mark_price, settlement.rate, amount)
            )
    return tuple(charges)


def settlement_times(
    start: datetime, end: datetime, *, interval: timedelta, anchor: datetime
) -> tuple[datetime, ...]:
    """Scheduled settlements ``t`` with ``start < t <= end``: ``anchor + k * interval`` for integer k."""
    if interval <= timedelta(0):
        raise ValueError(f"funding interval {interval} is not positive")
    if end <= start:
        return ()
    first = (start - anchor) // interval + 1
    times: list[datetime] = []
    current = anchor + first * interval
    while current <= end:
        times.append(current)
        current += interval
    return tuple(times)


def annualised_carry(rate: Decimal, interval: timedelta) -> Decimal:
    """rate * settlements per year; for display only, never for accounting."""
    if interval <= timedelta(0):
        raise ValueError(f"funding interval {interval} is not positive")
    per_year = Fraction(YEAR // timedelta(microseconds=1), interval // timedelta(microseconds=1))
    return rate * Decimal(per_year.numerator) / Decimal(per_year.denominator)
