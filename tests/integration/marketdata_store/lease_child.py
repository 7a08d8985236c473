"""A lease holder in its own process, driven line by line over stdin (tests only).

Usage: ``python lease_child.py DATABASE_URL HOLDER TTL_SECONDS``. It acquires the ingest lease
of the test instrument, prints ``HOLDING <token>``, then for every ``write <minute>`` line writes
one candle through a ``FencedWriter`` and prints ``WROTE <minute>`` or ``LOST <reason>``.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from integration.marketdata_store.builders import KEY, bar, provenance
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tradeplane.runtime.marketdata import lease, store


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(url: str, holder: str, ttl_s: float) -> int:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        held = await lease.acquire(engine, KEY, holder, ttl=timedelta(seconds=ttl_s))
        if held is None:
            say("REFUSED")
            return 1
        say(f"HOLDING {held.token}")
        writer = lease.FencedWriter(engine, held)
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command != "write":
                break
            try:
                async with writer.transaction() as connection:
                    await store.upsert_candles(connection, KEY, "1m", [bar(int(argument))], provenance("ws"))
            except lease.LeaseLost as lost:
                say(f"LOST {lost}")
            else:
                say(f"WROTE {argument}")
        return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]))))
