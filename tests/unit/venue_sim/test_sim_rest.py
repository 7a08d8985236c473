"""The simulator's public REST and request authentication, driven by a raw aiohttp client that follows
BingX's documentation (not the project's client library)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aiohttp import web

from tradeplane.runtime.venue.sim.protocol import authenticate, business_errors, ok
from tradeplane.runtime.venue.sim.server import DEFAULT_START_TIME_MS, SimConfig, VenueSimulator

pytestmark = pytest.mark.unit

KEY, SECRET = "test-key", "test-secret"
MINUTE = 60_000
HOUR = 60 * MINUTE


async def get(session: aiohttp.ClientSession, url: str, **params: Any) -> Any:
    async with session.get(url, params={k: str(v) for k, v in params.items()}) as response:
        return await response.json(content_type=None)


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    async with VenueSimulator(SimConfig(api_key=KEY, api_secret=SECRET, history_minutes=600)) as simulator:
        yield simulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# Signed requests -----------------------------------------------------------------------------------


def hand_signed(pairs: list[tuple[str, str]], secret: str = SECRET) -> str:
    """BingX docs: HMAC-SHA256 hex over k=v&k=v of the raw values, appended as ``signature``."""
    text = "&".join(f"{k}={v}" for k, v in pairs)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def signed_url(sim: VenueSimulator) -> AsyncIterator[str]:
    async def echo(request: web.Request) -> web.Response:
        params = await authenticate(request, api_key=KEY, api_secret=SECRET, clock=sim.clock)
        return ok(dict(params))

    app = web.Application(middlewares=[business_errors])
    app.router.add_route("*", "/signed", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/signed"
    await runner.cleanup()


async def call_signed(session: aiohttp.ClientSession, url: str, query: str, key: str = KEY) -> Any:
    async with session.get(f"{url}?{query}", headers={"X-BX-APIKEY": key}) as response:
        return await response.json(content_type=None)


async def test_sorted_and_unsorted_signatures_are_accepted(
    sim: VenueSimulator, session: aiohttp.ClientSession, signed_url: str
) -> None:
    now = str(DEFAULT_START_TIME_MS)
    sorted_pairs = [("recvWindow", "0"), ("symbol", "BTC-USDT"), ("timestamp", now)]
    unsorted_pairs = [("timestamp", now), ("symbol", "BTC-USDT")]
    for pairs in (sorted_pairs, unsorted_pairs):
        query = "&".join(f"{k}={v}" for k, v in pairs) + f"&signature={hand_signed(pairs)}"
        body = await call_signed(session, signed_url, query)
        assert body["code"] == 0
        assert body["data"]["symbol"] == "BTC-USDT"


async def test_signature_covers_decoded_values(session: aiohttp.ClientSession, signed_url: str) -> None:
    raw = '[{"symbol":"BTC-USDT"}]'
    pairs = [("batchOrders", raw), ("timestamp", str(DEFAULT_START_TIME_MS))]
    encoded = f"batchOrders={aiohttp.helpers.quote(raw, safe='')}&timestamp={DEFAULT_START_TIME_MS}"
    body = await call_signed(session, signed_url, f"{encoded}&signature={hand_signed(pairs)}")
    assert body["code"] == 0
    assert body["data"]["batchOrders"] == raw


@pytest.mark.parametrize(
    ("key", "secret", "offset_ms", "with_signature", "code"),
    [
        ("wrong-key", SECRET, 0, True, 100413),
        (KEY, SECRET, 0, False, 100412),
        (KEY, "other-secret", 0, True, 100001),
        (KEY, SECRET, -5001, True, 100421),
        (KEY, SECRET, 5001, True, 100421),
    ],
)
async def test_authentication_failures(
    session: aiohttp.ClientSession,
    signed_url: str,
    key: str,
    secret: str,
    offset_ms: int,
    with_signature: bool,
    code: int,
) -> None:
    pairs = [("symbol", "BTC-USDT"), ("timestamp", str(DEFAULT_START_TIME_MS + offset_ms))]
    query = "&".join(f"{k}={v}" for k, v in pairs)
    if with_signature:
        query += f"&signature={hand_signed(pairs, secret)}"
    body = await call_signed(session, signed_url, query, key=key)
    assert body["code"] == code


async def test_recv_window_widens_the_timestamp_check(
    sim: VenueSimulator, session: aiohttp.ClientSession, signed_url: str
) -> None:
    pairs = [("recvWindow", "10000"), ("timestamp", str(DEFAULT_START_TIME_MS - 8000))]
    query = "&".join(f"{k}={v}" for k, v in pairs) + f"&signature={hand_signed(pairs)}"
    assert (await call_signed(session, signed_url, query))["code"] == 0
    await sim.clock.advance(3000)  # now 11 s after the timestamp
    assert (await call_signed(session, signed_url, query))["code"] == 100421


# Public market data -------------------------------------------------------------------------------


async def test_server_time_and_contracts(sim: VenueSimulator, session: aiohttp.ClientSession) -> None:
    body = await get(session, f"{sim.rest_url}/openApi/swap/v2/server/time")
    assert body == {"code": 0, "msg": "", "data": {"serverTime": DEFAULT_START_TIME_MS}}
    body = await get(session, f"{sim.rest_url}/openApi/swap/v2/quote/contracts")
    assert {record["symbol"] for record in body["data"]} == {"XAUT-USDT", "PAXG-USDT", "BTC-USDT"}
    one = await get(session, f"{sim.rest_url}/openApi/swap/v2/quote/contracts", symbol="PAXG-USDT")
    assert [record["pricePrecision"] for record in one["data"]] == [2]
    missing = await get(session, f"{sim.rest_url}/openApi/swap/v2/quote/contracts", symbol="DOGE-USDT")
    assert missing["code"] != 0


async def test_klines_time_is_the_bar_open_and_pages(
    sim: VenueSimulator, session: aiohttp.ClientSession
) -> None:
    url = f"{sim.rest_url}/openApi/swap/v3/quote/klines"
    latest = (await get(session, url, symbol="XAUT-USDT", interval="1m", limit=3))["data"]
    assert [bar["time"] for bar in latest] == [
        DEFAULT_START_TIME_MS - 2 * MINUTE,
        DEFAULT_START_TIME_MS - MINUTE,
        DEFAULT_START_TIME_MS,
    ]
    assert all(
        isinstance(bar[field], str) for bar in latest for field in ("open", "high", "low", "close", "volume")
    )
    assert latest[-1]["open"] == "4000.00"  # the current bar opens at the calibrated start price
    start = DEFAULT_START_TIME_MS - 5 * HOUR
    page = (await get(session, url, symbol="XAUT-USDT", interval="1h", startTime=start, limit=2))["data"]
    assert [bar["time"] for bar in page] == [start, start + HOUR]
    minutes = (
        await get(
            session,
            url,
            symbol="XAUT-USDT",
            interval="1m",
            startTime=start,
            endTime=start + HOUR - 1,
            limit=1440,
        )
    )["data"]
    assert len(minutes) == 60
    assert page[0]["open"] == minutes[0]["open"] and page[0]["close"] == minutes[-1]["close"]
    assert Decimal(page[0]["high"]) == max(Decimal(bar["high"]) for bar in minutes)
    assert Decimal(page[0]["volume"]) == sum(Decimal(bar["volume"]) for bar in minutes)
    bad = await get(session, url, symbol="XAUT-USDT", interval="7m")
    assert bad["code"] in (100400, 80014)
    too_many = await get(session, url, symbol="XAUT-USDT", interval="1m", limit=1441)
    assert too_many["code"] in (100400, 80014)
    unknown = await get(session, url, symbol="NOPE-USDT", interval="1m")
    assert unknown["code"] == 109425


async def test_same_seed_same_data_other_seed_differs() -> None:
    async def closes(seed: int) -> list[str]:
        async with VenueSimulator(SimConfig(seed=seed, history_minutes=120)) as simulator:
            await simulator.clock.advance(90_000)
            async with aiohttp.ClientSession() as client:
                body = await get(
                    client,
                    f"{simulator.rest_url}/openApi/swap/v3/quote/klines",
                    symbol="BTC-USDT",
                    interval="1m",
                    limit=200,
                )
        return [bar["close"] for bar in body["data"]]

    first, second, other = await closes(7), await closes(7), await closes(8)
    assert first == second
    assert len(first) == 122
    assert first != other


async def test_funding_schedule_is_aligned_and_pages(
    sim: VenueSimulator, session: aiohttp.ClientSession
) -> None:
    url = f"{sim.rest_url}/openApi/swap/v2/quote/fundingRate"
    gold = (await get(session, url, symbol="XAUT-USDT", limit=3))["data"]
    assert [row["fundingTime"] for row in gold] == [
        DEFAULT_START_TIME_MS - 16 * HOUR,
        DEFAULT_START_TIME_MS - 8 * HOUR,
        DEFAULT_START_TIME_MS,
    ]
    paxg = (
        await get(session, url, symbol="PAXG-USDT", startTime=DEFAULT_START_TIME_MS - 24 * HOUR, limit=2)
    )["data"]
    assert [row["fundingTime"] for row in paxg] == [
        DEFAULT_START_TIME_MS - 24 * HOUR,
        DEFAULT_START_TIME_MS - 20 * HOUR,
    ]
    assert all(isinstance(row["fundingRate"], str) for row in paxg)
    premium = (await get(session, f"{sim.rest_url}/openApi/swap/v2/quote/premiumIndex", symbol="PAXG-USDT"))[
        "data"
    ]
    assert premium["nextFundingTime"] == DEFAULT_START_TIME_MS + 4 * HOUR
    settled = sim.market.funding_between("PAXG-USDT", DEFAULT_START_TIME_MS - 8 * HOUR, DEFAULT_START_TIME_MS)
    assert [(s.time_ms, format(s.rate, "f")) for s in settled] == [
        (row["fundingTime"], row["fundingRate"])
        for row in (await get(session, url, symbol="PAXG-USDT", limit=2))["data"]
    ]


async def test_depth_book_ticker_trades_ticker_open_interest(
    sim: VenueSimulator, session: aiohttp.ClientSession
) -> None:
    await sim.clock.advance(30_000)
    base = f"{sim.rest_url}/openApi/swap"
    depth = (await get(session, f"{base}/v2/quote/depth", symbol="BTC-USDT", limit=5))["data"]
    assert set(depth) == {"T", "bids", "asks", "bidsCoin", "asksCoin"}
    bids = [Decimal(price) for price, _ in depth["bids"]]
    asks = [Decimal(price) for price, _ in depth["asks"]]
    assert len(bids) == len(asks) == 5
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert all(price == price.quantize(Decimal("0.1")) for price in bids + asks)
    assert (await get(session, f"{base}/v2/quote/depth", symbol="BTC-USDT", limit=7))["code"] in (
        100400,
        80014,
    )
    ticker = (await get(session, f"{base}/v2/quote/bookTicker", symbol="BTC-USDT"))["data"]["book_ticker"]
    assert (ticker["bid_price"], ticker["ask_price"]) == (depth["bids"][0][0], depth["asks"][0][0])
    trades = (await get(session, f"{base}/v2/quote/trades", symbol="BTC-USDT", limit=5))["data"]
    assert trades and all(Decimal(t["quoteQty"]) == Decimal(t["price"]) * Decimal(t["qty"]) for t in trades)
    history = (await get(session, f"{base}/v1/market/historicalTrades", symbol="BTC-USDT", limit=3))["data"]
    first_id = history[0]["id"]
    paged = (
        await get(session, f"{base}/v1/market/historicalTrades", symbol="BTC-USDT", fromId=first_id, limit=2)
    )["data"]
    assert [t["id"] for t in paged] == [first_id, first_id + 1]
    day = (await get(session, f"{base}/v2/quote/ticker", symbol="BTC-USDT"))["data"]
    assert day["lastPrice"] == format(sim.market.last_price("BTC-USDT"), "f")
    interest = (await get(session, f"{base}/v2/quote/openInterest", symbol="BTC-USDT"))["data"]
    assert Decimal(interest["openInterest"]) > 0
    marks = (
        await get(session, f"{base}/v1/market/markPriceKlines", symbol="BTC-USDT", interval="1m", limit=2)
    )["data"]
    assert (
        marks[-1]["openTime"] == DEFAULT_START_TIME_MS
        and marks[-1]["closeTime"] == DEFAULT_START_TIME_MS + MINUTE - 1
    )


# Replay ------------------------------------------------------------------------------------------

ROWS = [
    (1_700_000_000_000 + i * MINUTE, o, h, low, c, v)
    for i, (o, h, low, c, v) in enumerate(
        [
            ("4000.00", "4003.50", "3999.00", "4002.00", "1.5"),
            ("4002.00", "4002.50", "3990.10", "3991.00", "2.25"),
            ("3991.00", "3995.00", "3991.00", "3994.40", "0.75"),
        ]
    )
]


def write_csv(path: Path) -> None:
    lines = ["open_time,open,high,low,close,volume", *(",".join(map(str, row)) for row in ROWS)]
    path.write_text("\n".join(lines) + "\n")


def write_parquet(path: Path) -> None:
    columns = list(zip(*ROWS, strict=True))
    table = pa.table(
        {
            "open_time": pa.array(columns[0], pa.int64()),
            **{
                name: pa.array(values)
                for name, values in zip(("open", "high", "low", "close", "volume"), columns[1:], strict=True)
            },
        }
    )
    pq.write_table(table, path)


@pytest.mark.parametrize("writer", [write_csv, write_parquet], ids=["csv", "parquet"])
async def test_replay_serves_the_recorded_bars(tmp_path: Path, writer: Any) -> None:
    path = tmp_path / ("bars.csv" if writer is write_csv else "bars.parquet")
    writer(path)
    config = SimConfig(symbols=("XAUT-USDT",), replay={"XAUT-USDT": path}, history_minutes=0)
    async with VenueSimulator(config) as simulator, aiohttp.ClientSession() as client:
        await simulator.clock.advance(3 * MINUTE)
        body = await get(
            client,
            f"{simulator.rest_url}/openApi/swap/v3/quote/klines",
            symbol="XAUT-USDT",
            interval="1m",
            startTime=DEFAULT_START_TIME_MS,
            limit=3,
        )
    served = [(bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) for bar in body["data"]]
    expected = [
        (o, h, low, c, format(Decimal(v).quantize(Decimal("0.0001")), "f")) for _, o, h, low, c, v in ROWS
    ]
    assert served == expected
    assert [bar["time"] for bar in body["data"]] == [DEFAULT_START_TIME_MS + i * MINUTE for i in range(3)]
