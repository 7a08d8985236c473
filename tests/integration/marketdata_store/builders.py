"""Keys, times and bar builders shared by the market-data store tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from tradeplane.runtime.marketdata.rows import Candle, DepthRow, Provenance
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.venue.sim.ws import compress

KEY = MarketKey.of("prod", "bingx", "XAUT-USDT")
OTHER = MarketKey.of("prod", "bingx", "PAXG-USDT")
START = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def provenance(source: str = "rest", *, at: int = 0, tag: str = "body") -> Provenance:
    """A batch's provenance received ``at`` seconds after START, hashing ``tag``."""
    received = START + timedelta(days=1, seconds=at)
    return Provenance.of(source, tag.encode(), received_at=received, connection_id=f"conn-{source}")  # type: ignore[arg-type]


def bar(
    minute: int, *, price: int = 2650, closed: bool = True, confirmed: bool = True, bump: str = "0"
) -> Candle:
    """A valid bar whose prices follow from ``minute`` (and ``bump``, to make a changed version)."""
    base = Decimal(price) + Decimal(minute % 37) / 10 + Decimal(bump)
    return Candle(
        START + minute * MINUTE,
        base,
        base + Decimal("1.25"),
        base - Decimal("0.75"),
        base + Decimal("0.5"),
        Decimal(minute % 11) + Decimal("0.001"),
        closed,
        confirmed,
    )


def depth_row(
    when: datetime,
    update_id: int,
    action: Literal["all", "update"],
    bids: list[list[str]],
    asks: list[list[str]],
    *,
    symbol: str = "XAUT-USDT",
) -> DepthRow:
    """A stored incrDepth push with the gzip frame the venue simulator would have sent for it."""
    time_ms = int(when.timestamp() * 1000)
    data = {"action": action, "lastUpdateId": update_id, "time": time_ms, "bids": bids, "asks": asks}
    frame = {"code": 0, "dataType": f"{symbol}@incrDepth", "s": symbol, "ts": time_ms, "data": data}
    return DepthRow(when, update_id, action, compress(json.dumps(frame)))
