"""A bounded wait that never swallows a cancellation (Python 3.11's asyncio.wait_for can)."""

from __future__ import annotations

import asyncio

import pytest

from tradeplane.runtime.marketdata.waiting import wait_or_timeout

pytestmark = pytest.mark.unit


async def test_set_and_timeout() -> None:
    event = asyncio.Event()
    assert await wait_or_timeout(event, 0.001) is False
    event.set()
    assert await wait_or_timeout(event, 5) is True


async def test_a_cancellation_arriving_with_the_event_still_stops_the_loop() -> None:
    event = asyncio.Event()

    async def sweep() -> None:
        while True:
            await wait_or_timeout(event, 10)
            event.clear()

    task = asyncio.create_task(sweep())
    await asyncio.sleep(0)  # let it start waiting
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await task
