"""What a dataset is computed from, read from the market-data store, with the evidence a manifest needs.

Why this module exists apart from the builder: a snapshot is only as good as the proof that its
inputs were complete. Reading and proving happen together here, so the manifest's claims (rows
per stream, first and last time, which grid times are absent, which gap events overlap) are the
very rows the features were computed from, not a second query that could disagree.

Boundaries, stated once:

- Bars are the *closed* rows of ``market_candles`` with ``open_time`` in ``[warmup_start, end)``.
  Confirmed bars are what REST settled; a closed but not yet confirmed bar is still used (there is
  one row per open time, so "prefer confirmed" means "count the others") and the manifest says how
  many there were.
- Context bars of interval ``c`` are the closed bars from the one containing ``warmup_start`` up to
  the last one that closed by ``end``.
- Funding: every settlement in ``[warmup_start, end)`` plus the last one before it, so the first row
  can see the rate in force (as-of semantics need the previous observation, not only the range).
- Mark: the 1m mark-price candles the backfill stores (``market_mark_candles``), each a point at its
  close (``open + 1m - 1 ms``, BingX's close-time convention); the WS mark stream is live-only and
  not replayable, so it is not a dataset source.
- Prices are ``Decimal`` in the store; they become float64 only here, at the edge of the feature
  matrix (``float(Decimal)`` rounds correctly). Bad rows (a non-positive price, an incoherent range)
  raise :class:`SourceQuarantine` naming them; nothing is zero-filled or dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.features.inputs import Bars, FundingSchedule, Inputs, Series
from tradeplane.runtime.features.plan import FeaturePlan
from tradeplane.runtime.features.registry import Registry, Stream
from tradeplane.runtime.features.standard import STANDARD
from tradeplane.runtime.intervals import INTERVALS, MONTH, align, duration, next_open, open_times
from tradeplane.runtime.marketdata import grid
from tradeplane.runtime.marketdata.gaps import KLINES, GapEvent, GapState, list_gaps
from tradeplane.runtime.marketdata.tables import (
    MARK_INTERVAL,
    MarketKey,
    candles,
    funding_rates,
    mark_candles,
)
from tradeplane.runtime.millis import from_ms, to_ms

FUNDING = "funding"
MARK = "markPrice"
UNRESOLVED = (GapState.OPEN, GapState.HEALING, GapState.UNHEALABLE)


@dataclass(frozen=True)
class StreamRange:
    """What was actually read from one stream: its first and last time, rows, unconfirmed bars."""

    stream: str
    interval: str
    first: datetime | None
    last: datetime | None
    rows: int
    unconfirmed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "interval": self.interval,
            "first": iso(self.first),
            "last": iso(self.last),
            "rows": self.rows,
            "unconfirmed": self.unconfirmed,
        }


@dataclass(frozen=True)
class Missing:
    """A run of expected times (bar open times, funding settlements) the store lacks; ``end`` inclusive."""

    stream: str
    interval: str
    start: datetime
    end: datetime
    count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "interval": self.interval,
            "start": iso(self.start),
            "end": iso(self.end),
            "missing": self.count,
        }

    def __str__(self) -> str:
        where = f"{self.stream}/{self.interval}" if self.interval else self.stream
        return f"{where} {iso(self.start)}..{iso(self.end)}: {self.count} missing"


def gap_json(gap: GapEvent) -> dict[str, Any]:
    """A gap event as the manifest lists it (no attempts or update times: those move while healing)."""
    return {
        "id": gap.id,
        "stream": gap.stream,
        "interval": gap.interval,
        "state": gap.state.value,
        "start": iso(gap.start),
        "end": iso(gap.end),
        "missing": gap.missing,
    }


def gap_text(gap: GapEvent) -> str:
    where = f"{gap.stream}/{gap.interval}" if gap.interval else gap.stream
    return (
        f"{where} {iso(gap.start)}..{iso(gap.end)}: {gap.missing} missing "
        f"(gap event {gap.id}, {gap.state.value})"
    )


@dataclass(frozen=True)
class LoadedInputs:
    """The feature inputs for ``[warmup_start, end)`` and the evidence of how complete they are."""

    key: MarketKey
    base_interval: str
    context_intervals: tuple[str, ...]
    start: datetime
    end: datetime
    warmup_start: datetime
    warmup_bars: int
    inputs: Inputs
    streams: tuple[StreamRange, ...]
    missing: tuple[Missing, ...]
    gap_events: tuple[GapEvent, ...]
    """Every gap event of the streams read that overlaps ``[warmup_start, end)``, healed ones included."""
    missing_data: tuple[str, ...] = ()
    """Required inputs absent altogether (no funding known at the first row, no funding calendar)."""

    @property
    def unresolved_gaps(self) -> tuple[GapEvent, ...]:
        return tuple(gap for gap in self.gap_events if gap.state in UNRESOLVED)

    @property
    def gap_free(self) -> bool:
        return not (self.missing or self.unresolved_gaps or self.missing_data)

    def problems(self) -> list[str]:
        """One line per reason the range is incomplete (what production mode refuses on)."""
        return [
            *(str(run) for run in self.missing),
            *(gap_text(gap) for gap in self.unresolved_gaps),
            *self.missing_data,
        ]


def required_streams(plan: FeaturePlan, registry: Registry = STANDARD) -> frozenset[Stream]:
    """The inputs a plan's transforms declare, so the loader reads (and proves) only what is used."""
    streams: set[Stream] = set()
    for spec in plan.specs:
        streams |= registry.get(spec.transform).inputs
    return frozenset(streams)


def bars_before(start: datetime, interval: str, count: int) -> datetime:
    """The open time ``count`` bars before the bar containing ``start`` (the warm-up's first bar)."""
    opened = align(start, interval)
    if interval != MONTH:
        return opened - count * duration(interval)
    for _ in range(count):
        opened = align(opened - timedelta(days=1), interval)
    return opened


async def load_inputs(
    engine: AsyncEngine,
    key: MarketKey,
    *,
    base_interval: str,
    context_intervals: Sequence[str],
    start: datetime,
    end: datetime,
    need_funding: bool,
    need_mark: bool,
    warmup_bars: int,
    funding_schedule: FundingSchedule | None = None,
    need_schedule: bool = False,
) -> LoadedInputs:
    """Read ``[start - warmup, end)`` of one instrument; raises :class:`SourceQuarantine` on bad rows.

    ``funding_schedule`` (from the contract snapshot's funding interval) lets funding completeness be
    checked per settlement; a plan that reads funding without it has missing data (production refuses).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if not start < end:
        raise ValueError(f"start {iso(start)} must be before end {iso(end)}")
    warmup_start = bars_before(start, base_interval, warmup_bars)
    streams: list[StreamRange] = []
    missing: list[Missing] = []
    missing_data: list[str] = []
    async with engine.connect() as conn:
        bars, stream, absent = await _bars(conn, key, base_interval, warmup_start, end)
        streams.append(stream)
        missing += absent
        context: dict[str, Bars] = {}
        for interval in context_intervals:
            first = align(warmup_start, interval)
            context[interval], stream, absent = await _bars(conn, key, interval, first, end)
            streams.append(stream)
            missing += absent
        funding = mark = Series.empty()
        if need_funding:
            funding, stream = await _funding(conn, key, warmup_start, end)
            streams.append(stream)
            missing += _funding_missing(funding, funding_schedule, start, end)
            first_close = to_ms(next_open(start, base_interval)) - 1
            if not len(funding) or int(funding.time_ms[0]) > first_close:
                missing_data.append(f"{FUNDING}: no funding rate known at {iso(start)} (the first row)")
        if need_mark:
            mark, stream, absent = await _mark(conn, key, warmup_start, end)
            streams.append(stream)
            missing += absent
    if (need_schedule or need_funding) and funding_schedule is None:
        # without the calendar a settlement missing mid-range (or a months-old rate carried forward)
        # could not be seen, so it is missing data, not a check quietly skipped
        missing_data.append("funding schedule: the contract snapshot states no funding interval")
    inputs = Inputs(bars, context, funding, mark, funding_schedule)
    inputs.check()
    kinds = {KLINES: {base_interval, *context_intervals}, FUNDING: {""}, MARK: {"", MARK_INTERVAL}}
    if not need_funding:
        kinds.pop(FUNDING)
    if not need_mark:
        kinds.pop(MARK)
    events = [
        gap
        for gap in await list_gaps(engine, market=key.market, symbol=key.symbol)
        if gap.interval in kinds.get(gap.stream, set()) and gap.start < end and _reaches(gap, warmup_start)
    ]
    return LoadedInputs(
        key=key,
        base_interval=base_interval,
        context_intervals=tuple(context_intervals),
        start=start,
        end=end,
        warmup_start=warmup_start,
        warmup_bars=warmup_bars,
        inputs=inputs,
        streams=tuple(streams),
        missing=tuple(missing),
        gap_events=tuple(events),
        missing_data=tuple(missing_data),
    )


def _reaches(gap: GapEvent, warmup_start: datetime) -> bool:
    """Whether the gap's last bar ends after ``warmup_start``: a context bar read from the one containing
    ``warmup_start`` opens before it, so comparing open times alone would miss a gap on that bar."""
    if gap.interval in INTERVALS:
        return next_open(gap.end, gap.interval) > warmup_start
    return gap.end >= warmup_start


def _of(table: Table, key: MarketKey) -> list[Any]:
    return [table.c.market == key.market, table.c.symbol == key.symbol]


def _expected(first: datetime, end: datetime, interval: str) -> list[datetime]:
    """Open times from ``first`` whose bar has closed by ``end`` (a bar closing later is not due)."""
    return [t for t in open_times(first, end, interval) if next_open(t, interval) <= end]


async def _bars(
    conn: AsyncConnection, key: MarketKey, interval: str, first: datetime, end: datetime
) -> tuple[Bars, StreamRange, list[Missing]]:
    expected = _expected(first, end, interval)
    query = (
        select(candles)
        .where(*_of(candles, key), candles.c.interval == interval, candles.c.closed)
        .where(candles.c.open_time >= first, candles.c.open_time < end)
        .order_by(candles.c.open_time)
    )
    rows = [row for row in await conn.execute(query) if next_open(row.open_time, interval) <= end]
    opens = [to_ms(row.open_time) for row in rows]
    closes = [to_ms(next_open(row.open_time, interval)) - 1 for row in rows]
    bars = Bars(
        np.asarray(opens, dtype=np.int64),
        np.asarray(closes, dtype=np.int64),
        *(_floats(getattr(row, name) for row in rows) for name in ("open", "high", "low", "close", "volume")),
    )
    unconfirmed = sum(1 for row in rows if not row.confirmed)
    stream = _range(KLINES, interval, [row.open_time for row in rows], unconfirmed)
    absent = grid.missing_ranges(expected, (row.open_time for row in rows), interval)
    return bars, stream, [Missing(KLINES, interval, run.start, run.end, run.count) for run in absent]


async def _funding(
    conn: AsyncConnection, key: MarketKey, first: datetime, end: datetime
) -> tuple[Series, StreamRange]:
    table, time = funding_rates, funding_rates.c.funding_time
    before = select(time, table.c.rate).where(*_of(table, key), time < first).order_by(time.desc()).limit(1)
    within = select(time, table.c.rate).where(*_of(table, key), time >= first, time < end).order_by(time)
    rows = [*(await conn.execute(before)), *(await conn.execute(within))]
    series = Series(
        np.asarray([to_ms(row.funding_time) for row in rows], dtype=np.int64),
        _floats(row.rate for row in rows),
    )
    return series, _range(FUNDING, "", [row.funding_time for row in rows])


def _funding_missing(
    funding: Series, schedule: FundingSchedule | None, start: datetime, end: datetime
) -> list[Missing]:
    """Settlements the calendar says happened in ``(start - period, end)`` and the store lacks."""
    if schedule is None:
        return []
    period, offset = schedule.period_ms, schedule.offset_ms
    low, high = to_ms(start) - period, to_ms(end)
    first = offset + -(-(low - offset) // period) * period
    expected = range(first, high, period)
    have = {int(t) for t in funding.time_ms}
    runs: list[Missing] = []
    for time_ms in expected:
        if time_ms in have:
            continue
        moment = from_ms(time_ms)
        last = runs[-1] if runs else None
        if last is not None and to_ms(last.end) + period == time_ms:
            runs[-1] = Missing(FUNDING, "", last.start, moment, last.count + 1)
        else:
            runs.append(Missing(FUNDING, "", moment, moment, 1))
    return runs


async def _mark(
    conn: AsyncConnection, key: MarketKey, first: datetime, end: datetime
) -> tuple[Series, StreamRange, list[Missing]]:
    table = mark_candles
    query = (
        select(table.c.open_time, table.c.open, table.c.high, table.c.low, table.c.close)
        .where(*_of(table, key), table.c.interval == MARK_INTERVAL)
        .where(table.c.open_time >= first, table.c.open_time < end)
        .order_by(table.c.open_time)
    )
    rows = [row for row in await conn.execute(query) if next_open(row.open_time, MARK_INTERVAL) <= end]
    closes = [to_ms(next_open(row.open_time, MARK_INTERVAL)) - 1 for row in rows]
    series = Series(np.asarray(closes, dtype=np.int64), _floats(row.close for row in rows))
    expected = _expected(first, end, MARK_INTERVAL)
    absent = grid.missing_ranges(expected, (row.open_time for row in rows), MARK_INTERVAL)
    stream = _range(MARK, MARK_INTERVAL, [row.open_time for row in rows])
    return series, stream, [Missing(MARK, MARK_INTERVAL, run.start, run.end, run.count) for run in absent]


def _floats(values: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """NUMERIC (Decimal) to float64: the one place store prices leave Decimal, for the feature matrix."""
    return np.asarray([float(value) for value in values], dtype=np.float64)


def _range(stream: str, interval: str, times: list[datetime], unconfirmed: int = 0) -> StreamRange:
    return StreamRange(
        stream, interval, times[0] if times else None, times[-1] if times else None, len(times), unconfirmed
    )


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z``, so the manifest never depends on the session's time zone."""
    if moment is None:
        return None
    return from_ms(to_ms(moment)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
