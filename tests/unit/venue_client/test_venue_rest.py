"""The REST transport against a scripted BingX-shaped server on 127.0.0.1: envelope handling, signing
as the venue verifies it, safe-only retries, clock resync, and secrets kept out of errors."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from tradeplane.runtime.venue import signing
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.credentials import Credentials
from tradeplane.runtime.venue.errors import (
    AuthenticationError,
    RateLimited,
    UnknownOutcome,
    VenueUnavailable,
)
from tradeplane.runtime.venue.order_request import OrderRequest
from tradeplane.runtime.venue.ratelimit import RateLimiter
from tradeplane.runtime.venue.rest import RestTransport, RetryPolicy
from tradeplane.runtime.venue.wire import OrderSide, OrderType, PositionSide

pytestmark = pytest.mark.unit

KEY = Credentials("test-api-key-123456", "test-secret-abcdef")
SERVER_MS = 1_800_000_000_000


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


Handler = Callable[[web.Request], web.Response | Awaitable[web.Response]]


@dataclass
class Venue:
    """A scripted venue: per-path response queues; every request is recorded."""

    url: str = ""
    scripts: dict[str, list[Handler]] = field(default_factory=dict)
    seen: list[tuple[str, str, list[tuple[str, str]], dict[str, str]]] = field(default_factory=list)

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _, _ in self.seen if (m, p) == (method, path))


def envelope(
    data: object, code: int = 0, status: int = 200, headers: dict[str, str] | None = None
) -> Handler:
    def respond(_: web.Request) -> web.Response:
        body = {"code": code, "msg": "" if code == 0 else f"error {code}", "data": data}
        return web.Response(
            text=json.dumps(body), status=status, headers=headers, content_type="application/json"
        )

    return respond


def server_time(_: web.Request) -> web.Response:
    return web.json_response({"code": 0, "msg": "", "data": {"serverTime": SERVER_MS}})


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    state = Venue()

    async def handle(request: web.Request) -> web.Response:
        pairs = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True)
        state.seen.append((request.method, request.path, pairs, dict(request.headers)))
        if request.path == "/openApi/swap/v2/server/time" and not state.scripts.get(request.path):
            return server_time(request)
        queue = state.scripts.get(request.path) or []
        if not queue:
            return web.json_response({"code": 0, "msg": "", "data": {}})
        result = queue.pop(0)(request) if len(queue) > 1 else queue[0](request)
        return await result if inspect.isawaitable(result) else result

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


def transport(venue: Venue, clock: FakeTime, *, wall_ms: int = SERVER_MS, **kw: object) -> RestTransport:
    return RestTransport(
        venue.url,
        credentials=KEY,
        limiter=RateLimiter(clock=clock.monotonic, sleep=clock.sleep),
        retry=RetryPolicy(attempts=3),
        wall_ms=lambda: wall_ms,
        **kw,  # type: ignore[arg-type]
    )


async def test_signed_request_is_sorted_stamped_and_verifiable(venue: Venue) -> None:
    rest = transport(venue, FakeTime(), wall_ms=SERVER_MS - 2500)
    await rest.request("GET", "/openApi/swap/v2/user/positions", {"symbol": "BTC-USDT"}, signed=True)
    await rest.close()
    method, path, pairs, headers = venue.seen[-1]
    assert (method, path) == ("GET", "/openApi/swap/v2/user/positions")
    assert headers["X-BX-APIKEY"] == KEY.api_key
    keys = [key for key, _ in pairs]
    assert keys == ["recvWindow", "symbol", "timestamp", "signature"]
    assert signing.verify(KEY.secret_key, pairs, dict(pairs)["signature"])
    # The clock offset measured from /server/time puts the timestamp on the server's clock.
    assert int(dict(pairs)["timestamp"]) == SERVER_MS


async def test_bare_object_and_decimal_parsing(venue: Venue) -> None:
    venue.scripts["/openApi/user/auth/userDataStream"] = [lambda _: web.json_response({"listenKey": "k1"})]
    venue.scripts["/openApi/swap/v2/quote/premiumIndex"] = [
        lambda _: web.Response(
            text='{"code":0,"msg":"","data":{"markPrice":2650.15,"id":1970374651259388000}}'
        )
    ]
    rest = transport(venue, FakeTime())
    assert await rest.request("POST", "/openApi/user/auth/userDataStream") == {"listenKey": "k1"}
    data = await rest.request("GET", "/openApi/swap/v2/quote/premiumIndex")
    await rest.close()
    assert data["markPrice"] == Decimal("2650.15")
    assert data["id"] == 1970374651259388000


async def test_reads_retry_on_5xx_then_succeed(venue: Venue) -> None:
    venue.scripts["/openApi/swap/v2/quote/depth"] = [envelope(None, status=503), envelope({"ok": 1})]
    clock = FakeTime()
    rest = transport(venue, clock)
    assert await rest.request("GET", "/openApi/swap/v2/quote/depth") == {"ok": 1}
    await rest.close()
    assert venue.count("GET", "/openApi/swap/v2/quote/depth") == 2
    assert len(clock.slept) == 1


async def test_persistent_429_waits_retry_after_then_raises(venue: Venue) -> None:
    venue.scripts["/openApi/swap/v3/quote/klines"] = [
        envelope(None, status=429, headers={"Retry-After": "4"})
    ]
    clock = FakeTime()
    rest = transport(venue, clock)
    with pytest.raises(RateLimited) as caught:
        await rest.request("GET", "/openApi/swap/v3/quote/klines")
    await rest.close()
    assert venue.count("GET", "/openApi/swap/v3/quote/klines") == 3
    assert caught.value.retry_after_s == Decimal(4)
    assert clock.now >= 8.0  # two pauses of at least Retry-After each


@pytest.mark.parametrize("status", [504, 500, 429])
async def test_order_post_is_never_resent(venue: Venue, status: int) -> None:
    venue.scripts["/openApi/swap/v2/trade/order"] = [envelope(None, status=status)]
    client = BingXClient(venue.url, credentials=KEY, retry=RetryPolicy(attempts=5))
    clock = FakeTime()
    client.rest.limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    order = OrderRequest(
        symbol="BTC-USDT",
        side=OrderSide.BUY,
        position_side=PositionSide.BOTH,
        type=OrderType.MARKET,
        quantity=Decimal("0.001"),
        client_order_id="Run-7-A",
    )
    expected = {504: UnknownOutcome, 500: VenueUnavailable, 429: RateLimited}[status]
    async with client:
        with pytest.raises(expected) as caught:
            await client.place_order(order)
    assert venue.count("POST", "/openApi/swap/v2/trade/order") == 1
    if status == 504:
        assert isinstance(caught.value, UnknownOutcome)
        assert caught.value.client_order_id == "run-7-a"


async def test_timeout_on_a_state_change_is_unknown_outcome(venue: Venue) -> None:
    release = asyncio.Event()

    async def hang(_: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"code": 0})

    venue.scripts["/openApi/swap/v2/trade/closeAllPositions"] = [hang]
    rest = transport(venue, FakeTime(), timeout_s=0.2)
    with pytest.raises(UnknownOutcome):
        await rest.request("POST", "/openApi/swap/v2/trade/closeAllPositions", signed=True)
    release.set()
    await rest.close()
    assert venue.count("POST", "/openApi/swap/v2/trade/closeAllPositions") == 1


async def test_timestamp_rejection_resyncs_once_and_retries(venue: Venue) -> None:
    venue.scripts["/openApi/swap/v2/user/balance"] = [envelope(None, code=100421), envelope([])]
    rest = transport(venue, FakeTime())
    assert await rest.request("GET", "/openApi/swap/v2/user/balance", signed=True) == []
    await rest.close()
    assert venue.count("GET", "/openApi/swap/v2/server/time") == 2
    assert venue.count("GET", "/openApi/swap/v2/user/balance") == 2


async def test_secrets_never_in_errors(venue: Venue) -> None:
    venue.scripts["/openApi/swap/v2/user/balance"] = [envelope(None, code=100001)]
    rest = transport(venue, FakeTime())
    with pytest.raises(AuthenticationError) as caught:
        await rest.request("GET", "/openApi/swap/v2/user/balance", signed=True)
    await rest.close()
    _, _, pairs, _ = venue.seen[-1]
    text = f"{caught.value} {caught.value!r} {caught.value.args}"
    assert KEY.secret_key not in text
    assert KEY.api_key not in text
    assert dict(pairs)["signature"] not in text
    assert caught.value.code == 100001
