"""Ingest leases in a real PostgreSQL: tokens, takeovers, races and fenced writes.

An expired lease is made with a zero TTL (expired by the database's clock at once), so no test
waits for time to pass except the idle-transaction one, which waits on the server's own timeout.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from integration.marketdata_store.builders import KEY, OTHER, START, bar, provenance
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata import lease, store
from tradeplane.runtime.marketdata.lease import FencedWriter, Lease, LeaseLost, PlainWriter, Writer

pytestmark = pytest.mark.integration

LONG = timedelta(minutes=5)
EXPIRED = timedelta(0)


async def lease_row(engine: AsyncEngine) -> tuple[object, ...] | None:
    async with engine.connect() as connection:
        result = await connection.execute(
            text("SELECT holder, token FROM tradeplane.market_leases WHERE market = :m AND symbol = :s"),
            {"m": KEY.market, "s": KEY.symbol},
        )
        row = result.one_or_none()
    return None if row is None else tuple(row)


async def candle_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(text("SELECT count(*) FROM tradeplane.market_candles"))).scalar_one()


async def write_bar(writer: Writer, minute: int) -> None:
    async with writer.transaction() as connection:
        await store.upsert_candles(connection, KEY, "1m", [bar(minute)], provenance())


async def test_acquire_renew_release_and_takeover_tokens(engine: AsyncEngine) -> None:
    first = await lease.acquire(engine, KEY, "a", ttl=LONG)
    assert first is not None and (first.holder, first.token) == ("a", 1)
    assert await lease.acquire(engine, KEY, "b", ttl=LONG) is None, "a live lease of another holder"
    again = await lease.acquire(engine, KEY, "a", ttl=LONG)
    assert again is not None and again.token == 1, "the holder renews by acquiring"
    renewed = await lease.renew(engine, first, ttl=LONG)
    assert renewed.token == 1 and renewed.expires_at >= first.expires_at
    assert await lease.current_holder(engine, KEY) == renewed
    assert await lease.current_holder(engine, OTHER) is None
    assert await lease_row(engine) == ("a", 1)

    await lease.release(engine, renewed)
    assert await lease.current_holder(engine, KEY) is None
    assert await lease_row(engine) == ("a", 1), "release keeps the token"
    second = await lease.acquire(engine, KEY, "b", ttl=LONG)
    assert second is not None and (second.holder, second.token) == ("b", 2)
    await lease.release(engine, renewed)  # a lost lease released: nothing happens
    assert await lease.current_holder(engine, KEY) == second
    with pytest.raises(LeaseLost, match=r"a token 1 refused; now b token 2 \(live"):
        await lease.renew(engine, renewed, ttl=LONG)

    # Expired without a takeover: renewing is refused, re-acquiring (even by b) moves the token.
    short = await lease.acquire(engine, KEY, "b", ttl=EXPIRED)
    assert short is not None and short.token == 2
    with pytest.raises(LeaseLost, match=r"now b token 2 \(expired"):
        await lease.renew(engine, short, ttl=LONG)
    retaken = await lease.acquire(engine, KEY, "b", ttl=LONG)
    assert retaken is not None and retaken.token == 3
    assert await lease_row(engine) == ("b", 3)


async def test_renewing_a_lease_that_never_existed(engine: AsyncEngine) -> None:
    ghost = Lease(KEY, "ghost", 1, START)
    with pytest.raises(LeaseLost, match="nobody holds it"):
        await lease.renew(engine, ghost, ttl=LONG)
    with pytest.raises(LeaseLost, match="nobody holds it"):
        await write_bar(FencedWriter(engine, ghost), 0)


async def test_ten_concurrent_acquirers_one_holder(engine: AsyncEngine) -> None:
    for round_ in range(3):
        results = await asyncio.gather(
            *(
                lease.acquire(engine, KEY, f"r{round_}-{i}", ttl=LONG if round_ < 2 else EXPIRED)
                for i in range(10)
            )
        )
        granted = [r for r in results if r is not None]
        assert len(granted) == 1 if round_ < 2 else len(granted) >= 1
        if round_ == 0:
            assert granted[0].token == 1
            await lease.release(engine, granted[0])
        elif round_ == 1:
            assert granted[0].token == 2
            await lease.release(engine, granted[0])
    tokens = await lease_row(engine)
    assert tokens is not None and tokens[1] == 2 + len(granted), "each expired takeover moved the token"


async def test_fenced_writer_refuses_after_a_takeover(engine: AsyncEngine) -> None:
    old = await lease.acquire(engine, KEY, "old", ttl=EXPIRED)
    assert old is not None
    with pytest.raises(LeaseLost, match="old token 1 refused"):
        await write_bar(FencedWriter(engine, old), 0)  # expired, not yet taken over
    new = await lease.acquire(engine, KEY, "new", ttl=LONG)
    assert new is not None and new.token == 2
    with pytest.raises(LeaseLost, match="now new token 2"):
        await write_bar(FencedWriter(engine, old), 1)
    assert await candle_count(engine) == 0, "nothing of the old holder was written"
    await write_bar(FencedWriter(engine, new), 2)
    await write_bar(PlainWriter(engine), 3)
    assert await store.candle_open_times(engine, KEY, "1m", START, START + timedelta(hours=1)) == [
        bar(2).open_time,
        bar(3).open_time,
    ]


async def test_a_refused_transaction_rolls_back_what_it_wrote(engine: AsyncEngine) -> None:
    held = await lease.acquire(engine, KEY, "a", ttl=LONG)
    assert held is not None
    writer = FencedWriter(engine, held)
    with pytest.raises(RuntimeError):
        async with writer.transaction() as connection:
            await store.upsert_candles(connection, KEY, "1m", [bar(0)], provenance())
            raise RuntimeError("crash mid-batch")
    assert await candle_count(engine) == 0


async def test_a_paused_holder_inside_a_transaction_cannot_block_a_takeover(engine: AsyncEngine) -> None:
    """The holder opens a fenced transaction and stops (a GC pause, SIGSTOP): its row lock would keep
    the takeover waiting forever; the server ends the idle transaction, the takeover proceeds, and
    the paused holder's write fails when it resumes."""
    held = await lease.acquire(engine, KEY, "paused", ttl=timedelta(milliseconds=300))
    assert held is not None
    writer = FencedWriter(engine, held, idle_timeout=timedelta(milliseconds=600))
    taken: list[Lease | None] = []
    with pytest.raises(DBAPIError):
        async with writer.transaction() as connection:
            standby = lease.wait_for_lease(
                engine, KEY, "standby", ttl=LONG, poll_s=0.05, stopping=asyncio.Event()
            )
            taken.append(await standby)
            await store.upsert_candles(connection, KEY, "1m", [bar(0)], provenance())
    assert taken[0] is not None and (taken[0].holder, taken[0].token) == ("standby", 2)
    assert await candle_count(engine) == 0
    assert await lease_row(engine) == ("standby", 2)


async def test_wait_for_lease_stops_when_asked(engine: AsyncEngine) -> None:
    holder = await lease.acquire(engine, KEY, "a", ttl=LONG)
    assert holder is not None
    stopping = asyncio.Event()
    waiting = asyncio.create_task(
        lease.wait_for_lease(engine, KEY, "b", ttl=LONG, poll_s=30, stopping=stopping)
    )
    stopping.set()
    assert await waiting is None
    assert await lease.wait_for_lease(engine, KEY, "b", ttl=LONG, poll_s=30, stopping=stopping) is None
    await lease.release(engine, holder)
    granted = await lease.wait_for_lease(engine, KEY, "b", ttl=LONG, poll_s=30, stopping=asyncio.Event())
    assert granted is not None and granted.token == 2
