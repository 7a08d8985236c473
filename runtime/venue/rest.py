"""The BingX REST transport: signing, clock offset, envelope, rate budgets and safe retries.

Only requests that cannot change state are ever re-sent on their own (GETs, and requests the caller
declares idempotent). A state-changing request that fails in a way that leaves its outcome open (504,
timeout, connection lost after sending) raises UnknownOutcome, carrying the clientOrderId when there
is one, so the caller queries before acting. The one exception is ``100421`` (timestamp outside
recvWindow): the venue refuses such a request before acting on it, so after resynchronising the clock
it is re-sent once whatever its method.

Nothing here logs or raises the query string (it holds the signature) or the API key header.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
import structlog
from yarl import URL

from tradeplane.runtime.venue import signing
from tradeplane.runtime.venue.credentials import Credentials
from tradeplane.runtime.venue.errors import (
    AuthenticationError,
    PayloadError,
    RateLimited,
    TimestampRejected,
    UnknownOutcome,
    VenueUnavailable,
    classify,
)
from tradeplane.runtime.venue.ratelimit import RateLimiter

log = structlog.get_logger(__name__)

SERVER_TIME_PATH = "/openApi/swap/v2/server/time"
API_KEY_HEADER = "X-BX-APIKEY"
RETRYABLE = (RateLimited, VenueUnavailable)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter, for requests that are safe to repeat."""

    attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (0-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2**attempt)
        return rng.uniform(ceiling / 2, ceiling)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def loads(text: str) -> Any:
    """JSON with every non-integer number as Decimal (integers stay exact ints, even past 2^53)."""
    return json.loads(text, parse_float=Decimal)


def retry_after_s(headers: Mapping[str, str]) -> Decimal | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = Decimal(value)
    except InvalidOperation:
        return None
    return seconds if seconds >= 0 else None


class RestTransport:
    """One venue host. Owns the clock offset; the session is shared or owned."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        recv_window_ms: int = 5000,
        session: aiohttp.ClientSession | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        wall_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        if recv_window_ms <= 0 or recv_window_ms > 60_000:
            raise ValueError("recv_window_ms must be in 1..60000")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.recv_window_ms = recv_window_ms
        self.limiter = limiter or RateLimiter()
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random(0)  # noqa: S311 - jitter, not cryptography
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owns_session = session is None
        self._wall_ms = wall_ms
        self._offset_ms: int | None = None
        self._clock_lock = asyncio.Lock()

    @property
    def clock_offset_ms(self) -> int:
        """Server time minus local time, as last measured (0 before the first sync)."""
        return self._offset_ms or 0

    def now_ms(self) -> int:
        """Our best estimate of the venue's clock."""
        return self._wall_ms() + self.clock_offset_ms

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _session_or_new(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._owns_session = True
        return self._session

    async def sync_clock(self) -> int:
        """Measure the offset against ``/server/time`` using the request's midpoint; returns it."""
        sent = self._wall_ms()
        data = await self.request("GET", SERVER_TIME_PATH)
        received = self._wall_ms()
        try:
            server_ms = int(data["serverTime"])
        except (KeyError, TypeError, ValueError) as error:
            raise PayloadError(
                "missing or not an integer", field="serverTime", endpoint=SERVER_TIME_PATH
            ) from error
        self._offset_ms = server_ms - (sent + received) // 2
        log.info("venue.clock_synced", offset_ms=self._offset_ms, round_trip_ms=received - sent)
        return self._offset_ms

    async def _ensure_clock(self) -> None:
        async with self._clock_lock:
            if self._offset_ms is None:
                await self.sync_clock()

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, signing.Param | None] | None = None,
        *,
        signed: bool = False,
        idempotent: bool | None = None,
        client_order_id: str | None = None,
    ) -> Any:
        """Send one request and return ``data`` of the envelope (or the bare JSON object).

        ``idempotent`` defaults to ``method == "GET"``; only idempotent requests are retried on
        429/5xx/network errors.
        """
        method = method.upper()
        safe = method == "GET" if idempotent is None else idempotent
        if signed:
            if self.credentials is None:
                raise AuthenticationError("no credentials configured for a signed endpoint", endpoint=path)
            await self._ensure_clock()
        resynced = False
        attempt = 0
        while True:
            try:
                return await self._send_once(
                    method, path, params or {}, signed=signed, safe=safe, client_order_id=client_order_id
                )
            except TimestampRejected:
                if resynced or not signed:
                    raise
                resynced = True
                log.warning("venue.timestamp_rejected", path=path, offset_ms=self.clock_offset_ms)
                await self.sync_clock()
            except RETRYABLE as error:
                if not safe or attempt + 1 >= self.retry.attempts:
                    raise
                delay = self.retry.delay_s(attempt, self.rng)
                if isinstance(error, RateLimited):
                    delay = max(delay, float(error.retry_after_s or 0))
                    self.limiter.pause(path, delay)
                log.warning(
                    "venue.retry",
                    path=path,
                    method=method,
                    attempt=attempt + 1,
                    delay_s=round(delay, 3),
                    error=type(error).__name__,
                    code=error.code,
                    http_status=error.http_status,
                )
                if not isinstance(error, RateLimited):
                    await self.limiter.sleep(delay)
                attempt += 1

    def _url(self, path: str, params: Mapping[str, signing.Param | None], *, signed: bool) -> URL:
        if signed:
            assert self.credentials is not None
            stamped = {**params, "timestamp": self.now_ms(), "recvWindow": self.recv_window_ms}
            query = signing.signed_query(stamped, self.credentials.secret_key)
        else:
            query = signing.encode(signing.ordered(params))
        return URL(f"{self.base_url}{path}" + (f"?{query}" if query else ""), encoded=True)

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, signing.Param | None],
        *,
        signed: bool,
        safe: bool,
        client_order_id: str | None,
    ) -> Any:
        await self.limiter.acquire(path, signed=signed)
        url = self._url(path, params, signed=signed)
        headers = {API_KEY_HEADER: self.credentials.api_key} if self.credentials is not None else {}
        session = self._session_or_new()
        started = time.monotonic()
        try:
            async with session.request(method, url, headers=headers, timeout=self.timeout) as response:
                status = response.status
                text = await response.text()
                response_headers = response.headers
        except aiohttp.ClientConnectorError as error:
            # Never reached the venue: nothing can have executed.
            raise VenueUnavailable(f"cannot connect: {type(error).__name__}", endpoint=path) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            if safe:
                raise VenueUnavailable(f"transport failure: {type(error).__name__}", endpoint=path) from None
            raise UnknownOutcome(
                f"transport failure after sending ({type(error).__name__}): the request may have executed",
                endpoint=path,
                client_order_id=client_order_id,
            ) from None
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        data, code, msg = self._unwrap(text, status, path)
        failure = classify(
            status,
            code,
            msg,
            endpoint=path,
            retry_after_s=retry_after_s(response_headers),
            client_order_id=client_order_id,
        )
        log.debug("venue.response", method=method, path=path, status=status, code=code, elapsed_ms=elapsed_ms)
        if failure is not None:
            if isinstance(failure, RateLimited):
                self.limiter.pause(path, float(failure.retry_after_s or 0))
            raise failure
        return data

    @staticmethod
    def _unwrap(text: str, status: int, path: str) -> tuple[Any, int | None, str]:
        """(data, code, msg) from a ``{code,msg,data}`` envelope or a bare JSON body."""
        if not text.strip():
            return None, None, ""
        try:
            body = loads(text)
        except ValueError:
            if status >= 400:
                return None, None, text[:200]
            raise PayloadError("response is not JSON", field="<body>", endpoint=path) from None
        if isinstance(body, dict) and "code" in body:
            try:
                code = int(body["code"])
            except (TypeError, ValueError):
                raise PayloadError("not an integer", field="code", endpoint=path) from None
            return body.get("data"), code, str(body.get("msg") or "")
        return body, None, ""
