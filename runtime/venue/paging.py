"""THE forward walk over BingX's time-paged history endpoints (klines, mark-price klines, funding).

Those endpoints return at most ``limit`` rows from ``startTime``, so a range is read by moving
``startTime`` past the newest row of each page. One walker serves the client's ``*_between`` reads
and the backfill, so every reader agrees on when a walk ends: at an empty page or a page that makes
no progress, never on a short page (a venue that caps ``limit`` lower than asked would otherwise end
the walk early). Rows are deduplicated on their time, the first one seen wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Row = TypeVar("Row")


async def walk_forward(
    fetch_page: Callable[[int], Awaitable[Sequence[Row]]],
    time_ms_of: Callable[[Row], int],
    *,
    start_ms: int,
    end_ms: int,
) -> list[Row]:
    """Every row stamped in [start_ms, end_ms], oldest first; ``fetch_page(cursor)`` reads one page
    from ``startTime=cursor`` (with ``endTime=end_ms``)."""
    rows: dict[int, Row] = {}
    cursor = start_ms
    while cursor <= end_ms:
        page = await fetch_page(cursor)
        fresh = [row for row in page if start_ms <= time_ms_of(row) <= end_ms]
        for row in fresh:
            rows.setdefault(time_ms_of(row), row)
        newest = max((time_ms_of(row) for row in fresh), default=None)
        if newest is None or newest < cursor:
            break
        cursor = newest + 1
    return [rows[time] for time in sorted(rows)]
