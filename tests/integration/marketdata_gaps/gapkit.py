"""Shared constants and ground-truth readers of the gap and backfill tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tradeplane.runtime.marketdata.gaps import GapMetrics
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.millis import from_ms, to_ms
from tradeplane.runtime.venue.sim.server import VenueSimulator

SYMBOL = "BTC-USDT"
KEY = MarketKey.of("trading", "bingx", SYMBOL)
HISTORY_MINUTES = 600


def sim_now(sim: VenueSimulator) -> datetime:
    return from_ms(sim.clock.now_ms())


def truth(sim: VenueSimulator, start: datetime, end: datetime) -> list[tuple[datetime, Decimal, ...]]:
    """The simulator's own 1m bars opening in [start, end] as (open_time, o, h, l, c, v) Decimals."""
    market = sim.market[SYMBOL]
    price, quantity = market.price_decimal, market.quantity_decimal
    low, high = to_ms(start), to_ms(end)
    return [
        (from_ms(bar.open_time), price(bar.open), price(bar.high), price(bar.low), price(bar.close),
         quantity(bar.volume))
        for bar in market.bars
        if low <= bar.open_time <= high
    ]  # fmt: skip


def metric(metrics: GapMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0
