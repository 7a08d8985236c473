"""Missing runs on the bar grid: which expected open times a store lacks, as maximal ranges.

The grid itself (the interval table, ``align``, ``next_open``, ``open_times``) is
``tradeplane.runtime.intervals``; this module only groups absent open times into the runs that
become gap events and backfill requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tradeplane.runtime.intervals import next_open
from tradeplane.runtime.millis import utc


@dataclass(frozen=True)
class MissingRange:
    """A maximal run of consecutive expected open times that are absent; ``end`` is the last one."""

    start: datetime
    end: datetime
    count: int


def missing_ranges(
    expected: Sequence[datetime], present: Iterable[datetime], interval: str
) -> list[MissingRange]:
    """The maximal runs of ``expected`` open times absent from ``present``.

    A run continues only while each absent time is exactly one bar after the previous one, so an
    ``expected`` list with its own holes never merges two separate runs into one."""
    have = {utc(t) for t in present}
    ranges: list[MissingRange] = []
    run: list[datetime] = []
    for t in (utc(t) for t in expected):
        if t in have:
            if run:
                ranges.append(MissingRange(run[0], run[-1], len(run)))
                run = []
            continue
        if run and next_open(run[-1], interval) != t:
            ranges.append(MissingRange(run[0], run[-1], len(run)))
            run = []
        run.append(t)
    if run:
        ranges.append(MissingRange(run[0], run[-1], len(run)))
    return ranges
