"""Candle upserts with finality: a confirmed bar is never silently overwritten.

Per incoming candle, against the stored row (locked ``FOR UPDATE`` for the transaction):

- absent: insert;
- stored confirmed: a confirmed candle with different OHLCV appends a revision (previous and current
  values) and replaces the row; anything else (an unconfirmed websocket frame, an identical bar)
  leaves it untouched;
- stored unconfirmed: an in-progress frame never reopens a closed bar; otherwise any difference in
  OHLCV, ``closed`` or ``confirmed`` updates the row, and an identical bar leaves it untouched.

"Untouched" means no UPDATE at all, so replaying an interval leaves the table byte-identical
(``received_at`` and provenance included). Values compare as numbers (``1.50`` equals ``1.5``).
One SELECT of the batch's existing rows, then batched INSERT/UPDATE statements (executemany), so
a 1440-bar REST page costs a handful of round trips. An insert that loses a race with a
concurrent writer (``ON CONFLICT DO NOTHING``) is classified again against the winner's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from tradeplane.runtime.marketdata.rows import Candle, Provenance, UpsertCounts, last_wins
from tradeplane.runtime.marketdata.tables import MarketKey, candle_revisions, candles

OHLCV = ("open", "high", "low", "close", "volume")


def require_utc(moment: datetime, what: str) -> datetime:
    """Naive datetimes are refused at the store's boundary: their meaning depends on the host."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {moment.isoformat()}")
    return moment


def _snapshot(values: Any) -> dict[str, Any]:
    """A candle's values as stored in a revision: decimal strings, ISO times, provenance."""
    return {
        **{name: str(getattr(values, name)) for name in OHLCV},
        "closed": values.closed,
        "confirmed": values.confirmed,
        "source": values.source,
        "received_at": values.received_at.isoformat(),
        "payload_hash": values.payload_hash,
    }


class _Incoming:
    """An incoming candle with the batch's provenance, shaped like a stored row for ``_snapshot``."""

    def __init__(self, candle: Candle, provenance: Provenance) -> None:
        self.candle = candle
        self.source = provenance.source
        self.received_at = provenance.received_at
        self.payload_hash = provenance.payload_hash

    def __getattr__(self, name: str) -> Any:
        return getattr(self.candle, name)


def _differs(stored: Any, candle: Candle) -> list[str]:
    return [name for name in OHLCV if getattr(stored, name) != getattr(candle, name)]


def _row(key: MarketKey, interval: str, candle: Candle, provenance: Provenance) -> dict[str, Any]:
    return {
        "market": key.market,
        "symbol": key.symbol,
        "interval": interval,
        "open_time": require_utc(candle.open_time, "open_time"),
        **{name: getattr(candle, name) for name in OHLCV},
        "closed": candle.closed,
        "confirmed": candle.confirmed,
        "exchange_time": candle.exchange_time,
        "source": provenance.source,
        "received_at": require_utc(provenance.received_at, "received_at"),
        "connection_id": provenance.connection_id,
        "payload_hash": provenance.payload_hash,
    }


_PK = ("market", "symbol", "interval", "open_time")
_UPDATE = (
    update(candles)
    .where(*(candles.c[name] == bindparam(f"k_{name}") for name in _PK))
    .values({name: bindparam(f"v_{name}") for name in (*OHLCV, "closed", "confirmed", "exchange_time")})
    .values({name: bindparam(f"v_{name}") for name in ("source", "received_at", "connection_id")})
    .values(payload_hash=bindparam("v_payload_hash"))
)


def _update_params(row: dict[str, Any], stored: Any) -> dict[str, Any]:
    params = {f"k_{name}": row[name] for name in _PK}
    params.update({f"v_{name}": value for name, value in row.items() if name not in _PK})
    if params["v_exchange_time"] is None:
        params["v_exchange_time"] = stored.exchange_time
    return params


class _Plan:
    """What one pass over a batch decided; executed as a few batched statements."""

    def __init__(self) -> None:
        self.inserts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.revisions: list[tuple[dict[str, Any], Any, Candle, list[str], Provenance]] = []
        self.unchanged = 0

    def classify(self, row: dict[str, Any], stored: Any, candle: Candle, provenance: Provenance) -> None:
        if stored is None:
            self.inserts.append(row)
        elif stored.confirmed:
            changed = _differs(stored, candle) if candle.confirmed else []
            if changed:
                self.revisions.append((row, stored, candle, changed, provenance))
            else:
                self.unchanged += 1
        elif stored.closed and not candle.closed:
            self.unchanged += 1
        elif _differs(stored, candle) or (stored.closed, stored.confirmed) != (
            candle.closed,
            candle.confirmed,
        ):
            self.updates.append(_update_params(row, stored))
        else:
            self.unchanged += 1


async def _locked(
    conn: AsyncConnection, key: MarketKey, interval: str, times: list[datetime]
) -> dict[datetime, Any]:
    query = (
        select(candles)
        .where(
            candles.c.market == key.market,
            candles.c.symbol == key.symbol,
            candles.c.interval == interval,
            candles.c.open_time.in_(times),
        )
        .with_for_update()
    )
    return {row.open_time: row for row in await conn.execute(query)}


async def _record_revisions(
    conn: AsyncConnection,
    key: MarketKey,
    interval: str,
    plan: _Plan,
) -> None:
    times = [row["open_time"] for row, *_ in plan.revisions]
    counted = select(candle_revisions.c.open_time, func.max(candle_revisions.c.revision)).where(
        candle_revisions.c.market == key.market,
        candle_revisions.c.symbol == key.symbol,
        candle_revisions.c.interval == interval,
        candle_revisions.c.open_time.in_(times),
    )
    result = await conn.execute(counted.group_by(candle_revisions.c.open_time))
    previous: dict[datetime, int] = {open_time: count for open_time, count in result}
    records = [
        {
            "market": key.market,
            "symbol": key.symbol,
            "interval": interval,
            "open_time": row["open_time"],
            "revision": previous.get(row["open_time"], 0) + 1,
            "previous": _snapshot(stored),
            "current": _snapshot(_Incoming(candle, provenance)),
            "reason": f"confirmed {provenance.source} bar differs in {', '.join(changed)}",
            "recorded_at": provenance.received_at,
        }
        for row, stored, candle, changed, provenance in plan.revisions
    ]
    await conn.execute(candle_revisions.insert(), records)
    await conn.execute(_UPDATE, [_update_params(row, stored) for row, stored, *_ in plan.revisions])


async def upsert_candles(
    conn: AsyncConnection,
    key: MarketKey,
    interval: str,
    candles_in: Sequence[Candle],
    provenance: Provenance,
) -> UpsertCounts:
    """Store a batch of candles of one interval by the rules above, inside the caller's
    transaction; duplicates of one open time within the batch: the last wins."""
    return await upsert_candles_from(conn, key, interval, [(candle, provenance) for candle in candles_in])


async def upsert_candles_from(
    conn: AsyncConnection,
    key: MarketKey,
    interval: str,
    candles_in: Sequence[tuple[Candle, Provenance]],
) -> UpsertCounts:
    """The same with each candle's own provenance (the frame it was read from): a batch of
    websocket bars is one classification pass, not one per frame."""
    counts = UpsertCounts()
    pending = last_wins(candles_in, lambda pair: pair[0].open_time)
    while pending:
        rows = [_row(key, interval, candle, provenance) for candle, provenance in pending]
        stored = await _locked(conn, key, interval, [row["open_time"] for row in rows])
        plan = _Plan()
        for row, (candle, provenance) in zip(rows, pending, strict=True):
            plan.classify(row, stored.get(row["open_time"]), candle, provenance)
        inserted: set[datetime] = set()
        if plan.inserts:
            statement = pg_insert(candles).on_conflict_do_nothing().returning(candles.c.open_time)
            inserted = set((await conn.execute(statement, plan.inserts)).scalars().all())
        if plan.updates:
            await conn.execute(_UPDATE, plan.updates)
        if plan.revisions:
            await _record_revisions(conn, key, interval, plan)
        counts += UpsertCounts(len(inserted), len(plan.updates), len(plan.revisions), plan.unchanged)
        raced = {row["open_time"] for row in plan.inserts} - inserted
        pending = [pair for pair in pending if pair[0].open_time in raced]
    return counts
