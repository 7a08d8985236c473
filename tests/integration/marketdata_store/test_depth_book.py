"""Books are served from stored incrDepth rows: the newest snapshot at or before the time asked for and
its contiguous run of updates; a hole, no snapshot or a crossed result is refused, never approximated."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from integration.marketdata_store.builders import KEY, OTHER, START, depth_row, provenance
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata import store
from tradeplane.runtime.marketdata.depth_book import BookNotSynced
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.rows import DepthRow
from tradeplane.runtime.marketdata.store_reads import depth_book

pytestmark = pytest.mark.integration

SECOND = timedelta(seconds=1)


def row(second: int, update_id: int, action: str, bids: list[list[str]], asks: list[list[str]]) -> DepthRow:
    return depth_row(START + second * SECOND, update_id, action, bids, asks)  # type: ignore[arg-type]


def levels(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in pairs]


async def store_rows(engine: AsyncEngine, rows: list[DepthRow], key: object = KEY) -> None:
    async with PlainWriter(engine).transaction() as connection:
        await store.insert_depth_updates(connection, key, rows, provenance("ws"))  # type: ignore[arg-type]


async def test_the_book_at_a_time_replays_the_latest_snapshot_and_its_run(engine: AsyncEngine) -> None:
    await store_rows(
        engine,
        [
            row(0, 100, "all", [["99", "1"], ["98", "2"]], [["101", "1"], ["102", "2"]]),
            row(1, 101, "update", [["99", "0"], ["98.5", "3"]], []),
            row(2, 102, "update", [], [["101", "0"], ["100.5", "4"]]),
            row(3, 103, "update", [["98", "7"]], []),
        ],
    )
    await store_rows(engine, [row(0, 7, "all", [["1", "1"]], [["2", "1"]])], key=OTHER)  # another instrument
    at_two = await depth_book(engine, KEY, START + 2 * SECOND)
    assert at_two.last_update_id == 102
    assert at_two.top(5) == (levels(("98.5", "3"), ("98", "2")), levels(("100.5", "4"), ("102", "2")))
    latest = await depth_book(engine, KEY, START + 10 * SECOND)
    assert (latest.last_update_id, latest.top(1)[0]) == (103, levels(("98.5", "3")))
    with pytest.raises(BookNotSynced, match="no incrDepth snapshot"):
        await depth_book(engine, KEY, START - SECOND)


async def test_a_hole_in_the_stored_run_is_refused_until_the_next_snapshot(engine: AsyncEngine) -> None:
    await store_rows(
        engine,
        [
            row(0, 100, "all", [["99", "1"]], [["101", "1"]]),
            row(1, 101, "update", [["99", "2"]], []),
            row(3, 103, "update", [["99", "4"]], []),  # 102 never stored
            row(5, 200, "all", [["97", "1"]], [["103", "1"]]),  # the resync's snapshot
        ],
    )
    assert (await depth_book(engine, KEY, START + SECOND)).top(1)[0] == levels(("99", "2"))
    with pytest.raises(BookNotSynced, match=r"102\.\.102 are missing"):
        await depth_book(engine, KEY, START + 4 * SECOND)
    after = await depth_book(engine, KEY, START + 5 * SECOND)
    assert after.top(1) == (levels(("97", "1")), levels(("103", "1")))
