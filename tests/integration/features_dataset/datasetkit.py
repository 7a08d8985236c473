"""Seeded market data written through the store's own APIs, and the FeatureSet the tests build.

Prices are a fixed-seed random walk rounded to cents as ``Decimal`` (what the store holds), with
OHLC made coherent after rounding, so every expectation can be recomputed from these rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.crds.featureset import FeatureSetSpec, SnapshotMode
from tradeplane.runtime.features import synthetic
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.dataset_inputs import LoadedInputs, load_inputs
from tradeplane.runtime.features.inputs import FundingSchedule
from tradeplane.runtime.features.plan import FeaturePlan
from tradeplane.runtime.features.snapshot import Snapshot, SourceLabel, build_snapshot
from tradeplane.runtime.intervals import align
from tradeplane.runtime.marketdata import store
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.rows import Candle, MarkCandle, Provenance
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.millis import to_ms

NAMESPACE = "research"
VENUE = "bingx-sim"
SYMBOL = "XAUT-USDT"
KEY = MarketKey.of(NAMESPACE, VENUE, SYMBOL)
FEATURESET = "gold-1m"
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
"""First requested bar; funding settles at 00:00, 08:00 and 16:00."""
END = START + timedelta(hours=6)
MINUTE = timedelta(minutes=1)
HISTORY = timedelta(hours=12)
"""Seeded history before START: more than the plan's warm-up and the funding settlement before it."""
SIM_REST = "http://127.0.0.1:18080"

SIMULATED = SourceLabel.of(f"{NAMESPACE}/{VENUE}", SIM_REST)

SPEC: dict[str, Any] = {
    "instrumentRefs": [{"name": "xaut"}],
    "baseInterval": "1m",
    "contextIntervals": ["1h"],
    "features": [
        {"name": "ret_1", "transform": "log_return"},
        {"name": "rsi_14", "transform": "rsi"},
        {"name": "funding_rate", "transform": "funding.rate"},
        {"name": "funding_hours", "transform": "funding.time_to_next"},
        {"name": "mark_basis", "transform": "basis.mark"},
        {"name": "ctx_1h_return", "transform": "bar.return", "interval": "1h"},
    ],
    "snapshotRetention": 2,
}
INSTRUMENT: dict[str, Any] = {
    "apiVersion": "tradeplane.io/v1alpha1",
    "kind": "Instrument",
    "metadata": {"name": "xaut", "namespace": NAMESPACE},
    "spec": {"venueRef": {"name": VENUE}, "symbol": SYMBOL},
}
VENUE_SPEC: dict[str, Any] = {
    "mode": "paper",
    "endpoints": {"rest": SIM_REST, "websocket": "ws://127.0.0.1:18080/swap-market"},
}


def spec() -> FeatureSetSpec:
    return FeatureSetSpec.model_validate(SPEC)


def plan() -> FeaturePlan:
    return FeaturePlan.from_featureset(spec())


def contract(featureset: FeatureSetSpec | None = None) -> tuple[dict[str, Any], str]:
    """The FeatureSet's contract document and fingerprint, as the operator computes them."""
    resolved = FeatureContract.from_spec(featureset or spec())
    return json.loads(resolved.to_json()), resolved.fingerprint


@dataclass(frozen=True)
class Seeded:
    bars: list[Candle]
    """The 1m bars written, oldest first."""


def _cents(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def bars_1m(first: datetime, count: int, *, seed: int = 11) -> list[Candle]:
    walk = synthetic.random_walk_bars(count, seed=seed, start_ms=to_ms(first), price=4000.0)
    candles = []
    for i in range(count):
        prices = [_cents(float(getattr(walk, name)[i])) for name in ("open", "high", "low", "close")]
        volume = Decimal(str(round(float(walk.volume[i]), 3)))
        opened, closed = prices[0], prices[3]
        candles.append(
            Candle(first + i * MINUTE, opened, max(prices), min(prices), closed, volume, True, True)
        )
    return candles


def aggregate(bars: list[Candle], minutes: int) -> list[Candle]:
    """Whole groups of ``minutes`` bars starting on an aligned open (the venue's own aggregation)."""
    out = []
    for i in range(0, len(bars) - minutes + 1, minutes):
        group = bars[i : i + minutes]
        out.append(
            Candle(
                group[0].open_time,
                group[0].open,
                max(b.high for b in group),
                min(b.low for b in group),
                group[-1].close,
                sum((b.volume for b in group), Decimal(0)),
                True,
                True,
            )
        )
    return out


def provenance() -> Provenance:
    return Provenance.of("rest", b"seed", received_at=START + timedelta(days=2))


async def seed(
    engine: AsyncEngine, *, until: datetime = END + timedelta(hours=2), seed_value: int = 11
) -> Seeded:
    """1m and 1h bars, 1m mark candles and 8-hourly funding from ``START - HISTORY`` to ``until``."""
    first = START - HISTORY
    count = int((until - first) / MINUTE)
    bars = bars_1m(first, count, seed=seed_value)
    rng = np.random.default_rng(seed_value)
    marks = [
        MarkCandle(b.open_time, b.open, b.high, b.low, b.close + _cents(float(rng.normal(0, 0.5))))
        for b in bars
    ]
    marks = [m._replace(high=max(m.high, m.close), low=min(m.low, m.close)) for m in marks]
    anchor = align(first, "8h")  # BingX settles at 00:00, 08:00 and 16:00 UTC
    settlements = [
        anchor + timedelta(hours=8 * k) for k in range(int((until - anchor) / timedelta(hours=8)) + 1)
    ]
    funding = [(t, Decimal("0.0001") * (k % 3 + 1)) for k, t in enumerate(settlements)]
    writer = PlainWriter(engine)
    async with writer.transaction() as conn:
        await store.upsert_candles(conn, KEY, "1m", bars, provenance())
        await store.upsert_candles(conn, KEY, "1h", aggregate(bars, 60), provenance())
        await store.upsert_mark_candles(conn, KEY, "1m", marks, provenance())
        await store.upsert_funding_rates(conn, KEY, funding, provenance())
    return Seeded(bars)


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> int:
    async with engine.begin() as conn:
        return (await conn.execute(text(sql), params)).rowcount


async def delete_bar(engine: AsyncEngine, open_time: datetime, interval: str = "1m") -> None:
    deleted = await execute(
        engine,
        "DELETE FROM tradeplane.market_candles WHERE market = :m AND symbol = :s AND interval = :i "
        "AND open_time = :t",
        m=KEY.market,
        s=KEY.symbol,
        i=interval,
        t=open_time,
    )
    assert deleted == 1


async def load(engine: AsyncEngine, **overrides: Any) -> LoadedInputs:
    feature_plan = plan()
    arguments: dict[str, Any] = {
        "base_interval": "1m",
        "context_intervals": feature_plan.context_intervals,
        "start": START,
        "end": END,
        "need_funding": True,
        "need_mark": True,
        "warmup_bars": feature_plan.warmup,
        "funding_schedule": FundingSchedule(),
        "need_schedule": True,
    }
    return await load_inputs(engine, KEY, **(arguments | overrides))


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def build(loaded: LoadedInputs, directory: Path, mode: SnapshotMode = "production") -> Snapshot:
    document, fingerprint = contract()
    return build_snapshot(
        plan(),
        loaded,
        contract_json=document,
        fingerprint=fingerprint,
        mode=mode,
        source=SIMULATED,
        code_version="0.1.0",
        metadata_snapshot_ids={"contract": 7},
        directory=directory,
    )
