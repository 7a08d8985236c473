"""One writer per instrument: a PostgreSQL lease per ``MarketKey`` with a fencing token.

A second ingestor replica (or a paused one that wakes up after its lease was taken over) must be
harmless. Expiry is judged by the database's clock (``clock_timestamp()``) only, so two machines
whose clocks disagree cannot both believe they hold the lease. Every takeover increments the
token; ``FencedWriter`` re-checks holder, token and expiry under a row lock inside the same
transaction as the writes, so a former holder's write is refused and rolled back, never merged.

The holder string must identify one process incarnation (for example pod name plus a random
suffix): a restarted process that reused its predecessor's name would share its token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.marketdata.waiting import wait_or_timeout

_ACQUIRE = text("""
    INSERT INTO tradeplane.market_leases AS held
        (market, symbol, holder, token, acquired_at, renewed_at, expires_at)
    VALUES (:market, :symbol, :holder, 1, clock_timestamp(), clock_timestamp(),
            clock_timestamp() + CAST(:ttl AS interval))
    ON CONFLICT (market, symbol) DO UPDATE SET
        holder = EXCLUDED.holder,
        token = CASE WHEN held.holder = EXCLUDED.holder AND held.expires_at > clock_timestamp()
                     THEN held.token ELSE held.token + 1 END,
        acquired_at = CASE WHEN held.holder = EXCLUDED.holder AND held.expires_at > clock_timestamp()
                           THEN held.acquired_at ELSE clock_timestamp() END,
        renewed_at = clock_timestamp(),
        expires_at = clock_timestamp() + CAST(:ttl AS interval)
    WHERE held.expires_at <= clock_timestamp() OR held.holder = EXCLUDED.holder
    RETURNING holder, token, expires_at
""")
"""clock_timestamp() advances within the statement, so a lease seen live by WHERE may look
expired to the CASE a microsecond later: the holder then gets token + 1, which is only stricter."""
_RENEW = text("""
    UPDATE tradeplane.market_leases
    SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + CAST(:ttl AS interval)
    WHERE market = :market AND symbol = :symbol AND holder = :holder AND token = :token
      AND expires_at > clock_timestamp()
    RETURNING expires_at
""")
_RELEASE = text("""
    UPDATE tradeplane.market_leases SET expires_at = clock_timestamp()
    WHERE market = :market AND symbol = :symbol AND holder = :holder AND token = :token
      AND expires_at > clock_timestamp()
""")
_CURRENT = text("""
    SELECT holder, token, expires_at, expires_at > clock_timestamp() AS live
    FROM tradeplane.market_leases WHERE market = :market AND symbol = :symbol
""")
_FENCE = text(_CURRENT.text + " FOR SHARE")
_IDLE = text("SELECT set_config('idle_in_transaction_session_timeout', :value, true)")
DEFAULT_IDLE_TIMEOUT = timedelta(seconds=10)
"""How long a fenced transaction may sit idle before the server ends it (and its row lock)."""


@dataclass(frozen=True)
class Lease:
    """What a holder was granted; ``expires_at`` is by the database's clock."""

    key: MarketKey
    holder: str
    token: int
    expires_at: datetime


class LeaseLost(Exception):
    """The lease this process relied on is no longer its own: stop writing, go to standby."""

    def __init__(self, lease: Lease, current: Lease | None, *, live: bool) -> None:
        self.lease = lease
        self.current = current
        if current is None:
            now = "nobody holds it"
        else:
            state = "live" if live else "expired"
            now = (
                f"now {current.holder} token {current.token} ({state} until {current.expires_at.isoformat()})"
            )
        super().__init__(f"lease on {lease.key} lost: {lease.holder} token {lease.token} refused; {now}")


def _params(key: MarketKey, **extra: Any) -> dict[str, Any]:
    return {"market": key.market, "symbol": key.symbol, **extra}


async def acquire(engine: AsyncEngine, key: MarketKey, holder: str, *, ttl: timedelta) -> Lease | None:
    """Take the lease (token 1 when new, token + 1 when taking over an expired one) or renew it when
    ``holder`` still holds it (same token); ``None`` while another holder's lease is live.

    One ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` statement: PostgreSQL serialises concurrent
    callers on the row, and each re-evaluates the condition against the winner's committed row.
    """
    async with engine.begin() as connection:
        row = (await connection.execute(_ACQUIRE, _params(key, holder=holder, ttl=ttl))).one_or_none()
    return None if row is None else Lease(key, row.holder, row.token, row.expires_at)


async def _lost(connection: AsyncConnection, lease: Lease) -> LeaseLost:
    row = (await connection.execute(_CURRENT, _params(lease.key))).one_or_none()
    current = None if row is None else Lease(lease.key, row.holder, row.token, row.expires_at)
    return LeaseLost(lease, current, live=bool(row is not None and row.live))


async def renew(engine: AsyncEngine, lease: Lease, *, ttl: timedelta) -> Lease:
    """Extend a live lease; ``LeaseLost`` once it expired (even if nobody took it over yet) or the
    token changed, because writes fenced by the old expiry may already have been refused."""
    async with engine.begin() as connection:
        params = _params(lease.key, holder=lease.holder, token=lease.token, ttl=ttl)
        row = (await connection.execute(_RENEW, params)).one_or_none()
        if row is None:
            raise await _lost(connection, lease)
    return Lease(lease.key, lease.holder, lease.token, row.expires_at)


async def release(engine: AsyncEngine, lease: Lease) -> None:
    """Expire the lease now (a clean shutdown hands over without waiting for the TTL). The token
    stays, so the next holder gets token + 1. Releasing a lease already lost does nothing."""
    async with engine.begin() as connection:
        await connection.execute(_RELEASE, _params(lease.key, holder=lease.holder, token=lease.token))


async def current_holder(engine: AsyncEngine, key: MarketKey) -> Lease | None:
    """The live lease on ``key``, or ``None`` when there is none or it expired."""
    async with engine.connect() as connection:
        row = (await connection.execute(_CURRENT, _params(key))).one_or_none()
    if row is None or not row.live:
        return None
    return Lease(key, row.holder, row.token, row.expires_at)


async def wait_for_lease(
    engine: AsyncEngine,
    key: MarketKey,
    holder: str,
    *,
    ttl: timedelta,
    poll_s: float,
    stopping: asyncio.Event,
) -> Lease | None:
    """Standby: try to acquire every ``poll_s`` seconds until granted, or ``None`` once ``stopping``
    is set (checked before every attempt, and wakes the wait at once)."""
    while not stopping.is_set():
        lease = await acquire(engine, key, holder, ttl=ttl)
        if lease is not None:
            return lease
        await wait_or_timeout(stopping, poll_s)
    return None


class Writer(Protocol):
    """Where market data is written: each ``transaction()`` is one atomic unit of writes."""

    def transaction(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


class PlainWriter:
    """Writes without a lease: backfill CLIs and tests, where no second writer runs. The upserts
    are idempotent, so a plain writer racing a fenced one still stores consistent rows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as connection:
            yield connection


class FencedWriter:
    """Writes only while ``lease`` is the live lease: every transaction first locks the lease row
    (``FOR SHARE``) and checks holder, token and expiry by the database's clock. The lock keeps a
    takeover waiting until this transaction ends, so no write of the old token commits after the
    new token was granted. A mismatch raises ``LeaseLost`` and the transaction rolls back.

    A holder paused inside a transaction (GC pause, SIGSTOP, a stalled event loop) would hold that
    lock and block every takeover; ``idle_timeout`` makes the server end such a transaction
    (``idle_in_transaction_session_timeout``), releasing the lock and discarding its writes.
    """

    def __init__(
        self, engine: AsyncEngine, lease: Lease, *, idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.idle_timeout_ms = max(1, int(idle_timeout / timedelta(milliseconds=1)))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        lease = self.lease
        async with self.engine.begin() as connection:
            await connection.execute(_IDLE, {"value": f"{self.idle_timeout_ms}ms"})
            row = (await connection.execute(_FENCE, _params(lease.key))).one_or_none()
            if row is None or not row.live or (row.holder, row.token) != (lease.holder, lease.token):
                current = None if row is None else Lease(lease.key, row.holder, row.token, row.expires_at)
                raise LeaseLost(lease, current, live=bool(row is not None and row.live))
            yield connection
