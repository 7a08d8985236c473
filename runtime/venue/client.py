"""The BingX USDT-M perpetual REST client: one typed method per endpoint over one transport."""

from __future__ import annotations

import random
from types import TracebackType
from typing import Self

import aiohttp

from tradeplane.runtime.venue.client_market import MarketEndpoints
from tradeplane.runtime.venue.client_trading import TradingEndpoints
from tradeplane.runtime.venue.credentials import Credentials
from tradeplane.runtime.venue.ratelimit import RateLimiter
from tradeplane.runtime.venue.rest import RestTransport, RetryPolicy

PRODUCTION_REST_URL = "https://open-api.bingx.com"
DEMO_REST_URL = "https://open-api-vst.bingx.com"


class BingXClient(MarketEndpoints, TradingEndpoints):
    """Use as ``async with BingXClient(url, credentials=...) as client``. Signed calls synchronise the
    clock offset on first use; ``sync_clock`` re-measures it on demand."""

    def __init__(
        self,
        rest_url: str,
        *,
        credentials: Credentials | None = None,
        recv_window_ms: int = 5000,
        session: aiohttp.ClientSession | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        seed: int = 0,
    ) -> None:
        self.rest = RestTransport(
            rest_url,
            credentials=credentials,
            recv_window_ms=recv_window_ms,
            session=session,
            limiter=limiter,
            timeout_s=timeout_s,
            retry=retry,
            rng=random.Random(seed),  # noqa: S311 - retry jitter, not cryptography
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.rest.close()

    @property
    def clock_offset_ms(self) -> int:
        return self.rest.clock_offset_ms

    async def sync_clock(self) -> int:
        return await self.rest.sync_clock()
