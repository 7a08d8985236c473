"""Waiting for an event with a bound, safely cancellable."""

from __future__ import annotations

import asyncio


async def wait_or_timeout(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` at most ``seconds``; True when it was set.

    Not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation that arrives just as the
    event is set, and the cancelled task then never stops (an ingestor's sweep kept its task group
    from finishing after a stop). ``asyncio.timeout`` keeps the cancellation.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
