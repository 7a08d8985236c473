"""Client-side request budgets, so that we throttle ourselves before BingX does.

BingX counts per IP group (1 = market data, 2/3 = account and trade) and per account (UID) per
endpoint; going on after a 429 earns an IP ban (418). Every request therefore passes through all of
its windows (sliding, exact counts) and waits until each has room; it is never dropped. After a 429
the whole group is paused for the venue's ``retry_after``. Time and sleeping are injected so tests can
drive a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

MonotonicClock = Callable[[], float]
AsyncSleep = Callable[[float], Awaitable[None]]


class IpGroup(StrEnum):
    MARKET = "market"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Budget:
    limit: int
    window_s: float


@dataclass(frozen=True)
class Budgets:
    """Trading reference 1.2 (the 2025-09 regime). Groups 2 and 3 are counted together, which can only
    make us slower than allowed, never faster."""

    market: tuple[Budget, ...] = (Budget(500, 10.0), Budget(1000, 60.0))
    account: tuple[Budget, ...] = (Budget(2000, 10.0),)
    per_endpoint: Budget = Budget(300, 10.0)
    account_fast: Budget = Budget(5, 1.0)
    account_slow: Budget = Budget(2, 1.0)
    fast_paths: frozenset[str] = frozenset(
        {
            "/openApi/swap/v2/trade/order",
            "/openApi/swap/v2/trade/openOrders",
            "/openApi/swap/v2/trade/allOrders",
            "/openApi/swap/v2/trade/fillHistory",
            "/openApi/swap/v2/trade/allFillOrders",
            "/openApi/swap/v2/trade/batchOrders",
            "/openApi/swap/v2/user/positions",
            "/openApi/swap/v3/user/balance",
            "/openApi/swap/v2/user/commissionRate",
            "/openApi/swap/v2/trade/leverage",
            "/openApi/swap/v1/maintMarginRatio",
            "/openApi/swap/v2/trade/closeAllPositions",
        }
    )
    slow_paths: frozenset[str] = frozenset(
        {
            "/openApi/swap/v2/trade/marginType",
            "/openApi/swap/v1/positionSide/dual",
            "/openApi/swap/v2/trade/positionMargin",
            "/openApi/swap/v2/trade/cancelAllAfter",
        }
    )


MARKET_PATH_MARKERS = ("/quote/", "/market/", "/server/time")


def ip_group(path: str) -> IpGroup:
    return IpGroup.MARKET if any(marker in path for marker in MARKET_PATH_MARKERS) else IpGroup.ACCOUNT


@dataclass
class SlidingWindow:
    """Exact sliding log: at most ``limit`` admissions in any ``window_s`` interval."""

    budget: Budget
    admitted: deque[float] = field(default_factory=deque)

    def wait_s(self, now: float) -> float:
        while self.admitted and self.admitted[0] <= now - self.budget.window_s:
            self.admitted.popleft()
        if len(self.admitted) < self.budget.limit:
            return 0.0
        return self.admitted[0] + self.budget.window_s - now

    def admit(self, now: float) -> None:
        self.admitted.append(now)


class RateLimiter:
    """Waits until a request fits every budget it counts against, then admits it."""

    def __init__(
        self,
        *,
        budgets: Budgets | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        self.budgets = budgets or Budgets()
        self._clock = clock
        self._sleep = sleep
        self._windows: dict[str, list[SlidingWindow]] = {}
        self._paused_until: dict[IpGroup, float] = {}
        self.waited_s = 0.0

    def _windows_for(self, key: str, budgets: tuple[Budget, ...]) -> list[SlidingWindow]:
        if key not in self._windows:
            self._windows[key] = [SlidingWindow(budget) for budget in budgets]
        return self._windows[key]

    def windows(self, path: str, *, signed: bool) -> list[SlidingWindow]:
        """Every window a request to ``path`` counts against."""
        group = ip_group(path)
        if group is IpGroup.MARKET:
            return self._windows_for("ip:market", self.budgets.market)
        found = [
            *self._windows_for("ip:account", self.budgets.account),
            *self._windows_for(f"endpoint:{path}", (self.budgets.per_endpoint,)),
        ]
        if signed and path in self.budgets.fast_paths:
            found += self._windows_for(f"uid:{path}", (self.budgets.account_fast,))
        elif signed and path in self.budgets.slow_paths:
            found += self._windows_for(f"uid:{path}", (self.budgets.account_slow,))
        return found

    def pause(self, path: str, seconds: float) -> None:
        """Hold the whole IP group of ``path`` for ``seconds`` (after the venue answered 429)."""
        group = ip_group(path)
        until = self._clock() + max(seconds, 0.0)
        self._paused_until[group] = max(self._paused_until.get(group, until), until)

    async def sleep(self, seconds: float) -> None:
        """The injected sleep, for callers that back off on the same time source."""
        await self._sleep(seconds)

    def paused_for_s(self, path: str) -> float:
        return max(0.0, self._paused_until.get(ip_group(path), 0.0) - self._clock())

    async def acquire(self, path: str, *, signed: bool) -> None:
        """Return once the request may be sent; the admission is recorded in every window at once."""
        windows = self.windows(path, signed=signed)
        while True:
            now = self._clock()
            wait = max([self.paused_for_s(path), *(window.wait_s(now) for window in windows)])
            if wait <= 0:
                for window in windows:
                    window.admit(now)
                return
            self.waited_s += wait
            await self._sleep(wait)
