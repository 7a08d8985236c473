"""The forward walk over time-paged history: complete, deduplicated, and ended only by an empty or
non-advancing page, never by a short one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeplane.runtime.venue.paging import walk_forward

pytestmark = pytest.mark.unit


def _venue(times: list[int], limit: int) -> tuple[list[int], Callable[[int], Awaitable[list[int]]]]:
    """A history endpoint over ``times`` that returns at most ``limit`` rows from ``startTime``."""
    calls: list[int] = []

    async def page(cursor: int) -> list[int]:
        calls.append(cursor)
        return sorted(t for t in set(times) if t >= cursor)[:limit]

    return calls, page


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=60), st.integers(1, 7))
def test_the_walk_returns_every_row_in_range_once(times: list[int], limit: int) -> None:
    calls, page = _venue(times, limit)
    found = asyncio.run(walk_forward(page, lambda t: t, start_ms=1_000, end_ms=9_000))
    assert found == sorted({t for t in times if 1_000 <= t <= 9_000})
    assert calls == sorted(set(calls))  # the cursor only moves forward


def test_a_page_that_makes_no_progress_ends_the_walk() -> None:
    seen: list[int] = []

    async def stuck(cursor: int) -> list[int]:
        seen.append(cursor)
        return [5, 6]  # always the same old rows, whatever startTime says

    assert asyncio.run(walk_forward(stuck, lambda t: t, start_ms=0, end_ms=100)) == [5, 6]
    assert seen == [0, 7]
