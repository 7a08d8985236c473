"""Laws of the candle upsert, fuzzed with Hypothesis against PostgreSQL.

A small reference model states the finality rules once, in the test's own words; any sequence of
websocket and REST batches must leave the table equal to the model, record exactly the model's
revisions, and a batch applied twice in a row must leave the table byte-identical.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from integration.marketdata_store.builders import MINUTE, START, provenance
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tradeplane.runtime.marketdata import store
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.rows import Candle, UpsertCounts
from tradeplane.runtime.marketdata.tables import MarketKey

pytestmark = pytest.mark.integration

SYMBOLS = itertools.count()


@st.composite
def candles(draw: st.DrawFn) -> Candle:
    minute = draw(st.integers(0, 3))
    low = Decimal(draw(st.integers(2000, 2004))) + Decimal(draw(st.sampled_from(["0", "0.5", "0.50"])))
    spread = [Decimal(draw(st.integers(0, 2))) for _ in range(3)]
    high = low + max(spread)
    closed = draw(st.booleans())
    confirmed = closed and draw(st.booleans())
    exchange = draw(
        st.none() | st.integers(0, 59).map(lambda s: START + minute * MINUTE + timedelta(seconds=s))
    )
    volume = Decimal(draw(st.integers(0, 3)))
    return Candle(
        START + minute * MINUTE,
        low + spread[0],
        high,
        low,
        low + spread[1],
        volume,
        closed,
        confirmed,
        exchange,
    )


def model(batches: list[tuple[str, list[Candle]]]) -> tuple[dict[object, Candle], dict[object, int]]:
    """The finality rules: final bar per open time, and revisions per open time."""
    state: dict[object, Candle] = {}
    revised: dict[object, int] = {}
    for _, batch in batches:
        for candle in {c.open_time: c for c in batch}.values():
            old = state.get(candle.open_time)
            values = (candle.open, candle.high, candle.low, candle.close, candle.volume)
            if old is None:
                state[candle.open_time] = candle
            elif old.confirmed:
                if candle.confirmed and values != old.ohlcv():
                    revised[candle.open_time] = revised.get(candle.open_time, 0) + 1
                    state[candle.open_time] = candle._replace(
                        exchange_time=candle.exchange_time or old.exchange_time
                    )
            elif old.closed and not candle.closed:
                continue
            elif (values, candle.closed, candle.confirmed) != (old.ohlcv(), old.closed, old.confirmed):
                state[candle.open_time] = candle._replace(
                    exchange_time=candle.exchange_time or old.exchange_time
                )
    return state, revised


async def _check(url: str, batches: list[tuple[str, list[Candle]]]) -> None:
    key = MarketKey("law/bingx", f"S{next(SYMBOLS)}")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        writer = PlainWriter(engine)
        for step, (source, batch) in enumerate(batches):
            async with writer.transaction() as connection:
                await store.upsert_candles(
                    connection, key, "1m", batch, provenance(source, at=step, tag=str(step))
                )
            before = await store.table_checksum(engine, "market_candles", key)
            async with writer.transaction() as connection:
                again = await store.upsert_candles(
                    connection, key, "1m", batch, provenance(source, at=99, tag="x")
                )
            assert again == UpsertCounts(unchanged=len({c.open_time for c in batch}))
            assert await store.table_checksum(engine, "market_candles", key) == before
        state, revised = model(batches)
        stored = await store.candles_between(engine, key, "1m", START, START + 3 * MINUTE)
        expected = [state[t] for t in sorted(state)]  # type: ignore[type-var]
        assert [(c.open_time, c.ohlcv(), c.closed, c.confirmed, c.exchange_time) for c in stored] == [
            (c.open_time, c.ohlcv(), c.closed, c.confirmed, c.exchange_time) for c in expected
        ]
        history = await store.revisions(engine, key, "1m")
        counted: dict[object, int] = {}
        for revision in history:
            counted[revision.open_time] = counted.get(revision.open_time, 0) + 1
            assert revision.revision == counted[revision.open_time], "revisions are numbered 1, 2, ..."
        assert counted == revised
    finally:
        await engine.dispose()


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(["ws", "rest"]), st.lists(candles(), min_size=1, max_size=5)), max_size=6
    )
)
def test_any_sequence_of_batches_follows_the_rules(
    migrated: str, batches: list[tuple[str, list[Candle]]]
) -> None:
    # Each example writes its own symbol, so examples sharing the database never see each other.
    asyncio.run(_check(migrated, batches))
