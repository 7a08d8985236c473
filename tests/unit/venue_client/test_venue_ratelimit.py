"""Budgets are respected on a fake clock: nobody sleeps for real, nothing is dropped."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.venue.ratelimit import Budget, Budgets, RateLimiter

pytestmark = pytest.mark.unit

ORDER = "/openApi/swap/v2/trade/order"
KLINES = "/openApi/swap/v3/quote/klines"
MARGIN_TYPE = "/openApi/swap/v2/trade/marginType"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def limiter(clock: FakeTime, budgets: Budgets | None = None) -> RateLimiter:
    return RateLimiter(budgets=budgets, clock=clock.monotonic, sleep=clock.sleep)


def max_in_window(times: list[float], window_s: float) -> int:
    return max(sum(1 for other in times if start <= other < start + window_s) for start in times)


async def test_account_endpoint_is_held_to_five_per_second() -> None:
    clock = FakeTime()
    rl = limiter(clock)
    admitted = []
    for _ in range(23):
        await rl.acquire(ORDER, signed=True)
        admitted.append(clock.now)
    assert max_in_window(admitted, 1.0) == 5
    # 23 requests at 5/s need at least 4 full windows after the first burst.
    assert admitted[-1] >= 4.0


async def test_margin_type_is_held_to_two_per_second() -> None:
    clock = FakeTime()
    rl = limiter(clock)
    admitted = []
    for _ in range(7):
        await rl.acquire(MARGIN_TYPE, signed=True)
        admitted.append(clock.now)
    assert max_in_window(admitted, 1.0) == 2
    assert admitted[-1] == pytest.approx(3.0)


async def test_market_group_has_both_ten_second_and_minute_windows() -> None:
    clock = FakeTime()
    rl = limiter(clock, Budgets(market=(Budget(5, 10.0), Budget(8, 60.0))))
    admitted = []
    for _ in range(10):
        await rl.acquire(KLINES, signed=False)
        admitted.append(clock.now)
    assert admitted[:5] == [0.0] * 5
    assert admitted[5:8] == [10.0] * 3
    assert admitted[8:] == [60.0, 60.0]


async def test_after_a_429_the_whole_group_pauses() -> None:
    clock = FakeTime()
    rl = limiter(clock)
    rl.pause(ORDER, 7.5)
    await rl.acquire("/openApi/swap/v2/user/positions", signed=True)
    assert clock.now == pytest.approx(7.5)
    # The market group is not paused by an account-group 429.
    await rl.acquire(KLINES, signed=False)
    assert clock.now == pytest.approx(7.5)


async def test_concurrent_waiters_all_get_through_within_budget() -> None:
    clock = FakeTime()
    rl = limiter(clock)
    admitted: list[float] = []

    async def one() -> None:
        await rl.acquire(ORDER, signed=True)
        admitted.append(clock.now)

    await asyncio.gather(*(one() for _ in range(12)))
    assert len(admitted) == 12
    assert max_in_window(sorted(admitted), 1.0) <= 5


@settings(max_examples=40, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=6),
    window=st.sampled_from([0.5, 1.0, 10.0]),
    # Multiples of 1/8 s are exact binary fractions, so the law is checked without rounding noise.
    gaps=st.lists(st.integers(min_value=0, max_value=16).map(lambda n: n / 8), min_size=1, max_size=30),
)
def test_law_no_window_ever_admits_more_than_its_limit(limit: int, window: float, gaps: list[float]) -> None:
    clock = FakeTime()
    budget = Budget(limit, window)
    rl = limiter(clock, Budgets(account=(budget,), per_endpoint=Budget(10_000, 1.0)))
    admitted: list[float] = []

    async def run() -> None:
        for gap in gaps:
            clock.now += gap
            await rl.acquire("/openApi/swap/v2/user/income", signed=True)
            admitted.append(clock.now)

    asyncio.run(run())
    assert len(admitted) == len(gaps)
    assert max_in_window(admitted, window) <= limit
