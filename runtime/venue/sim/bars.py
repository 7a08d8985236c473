"""One-minute bars in integer ticks and steps, and their aggregation into every BingX kline interval.

Prices live as integer multiples of the contract's tick and volumes as multiples of its quantity
step, so nothing is ever rounded twice; they become Decimals only on the wire, where a client reads
them as ``runtime.bars.Bar`` like the real venue's. The interval names and lengths are the one table
(``runtime.intervals``); the bucketing below is the venue's own calendar arithmetic in
milliseconds, kept apart from ``intervals.align`` on purpose: the simulator stands in for BingX,
and the grid tests compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tradeplane.runtime.intervals import WEEK, WEEK_ORIGIN_MS, longest_ms
from tradeplane.runtime.millis import MINUTE_MS, WEEK_MS


@dataclass(slots=True)
class TickBar:
    """The simulator's mutable minute accumulator: OHLC in ticks, volume in quantity steps, the
    mark price's OHLC in ticks."""

    open_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    mark_open: int
    mark_high: int
    mark_low: int
    mark_close: int

    @classmethod
    def opening(cls, open_time: int, price: int, mark: int) -> TickBar:
        return cls(open_time, price, price, price, price, 0, mark, mark, mark, mark)

    def update(self, price: int, mark: int, volume: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += volume
        self.mark_high = max(self.mark_high, mark)
        self.mark_low = min(self.mark_low, mark)
        self.mark_close = mark


def bucket_open(interval: str, time_ms: int) -> int:
    """Open time of the ``interval`` bar containing ``time_ms`` (UTC-aligned like BingX)."""
    if interval == "1M":
        moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
        return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() * 1000)
    if interval == WEEK:
        return time_ms - (time_ms - WEEK_ORIGIN_MS) % WEEK_MS
    return time_ms - time_ms % longest_ms(interval)


def bucket_close(interval: str, open_ms: int) -> int:
    """Last millisecond of the bar opening at ``open_ms``."""
    if interval == "1M":
        moment = datetime.fromtimestamp(open_ms / 1000, tz=UTC)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000) - 1
    return open_ms + longest_ms(interval) - 1


def aggregate(minutes: list[TickBar], interval: str) -> list[TickBar]:
    """1m bars (ascending, contiguous) grouped into ``interval`` bars; a partial first or last
    group aggregates what exists, exactly as a live venue's current bar does."""
    if interval == "1m":
        return list(minutes)
    grouped: list[TickBar] = []
    for bar in minutes:
        opened = bucket_open(interval, bar.open_time)
        if grouped and grouped[-1].open_time == opened:
            current = grouped[-1]
            current.high = max(current.high, bar.high)
            current.low = min(current.low, bar.low)
            current.close = bar.close
            current.volume += bar.volume
            current.mark_high = max(current.mark_high, bar.mark_high)
            current.mark_low = min(current.mark_low, bar.mark_low)
            current.mark_close = bar.mark_close
        else:
            grouped.append(
                TickBar(
                    opened,
                    bar.open,
                    bar.high,
                    bar.low,
                    bar.close,
                    bar.volume,
                    bar.mark_open,
                    bar.mark_high,
                    bar.mark_low,
                    bar.mark_close,
                )
            )
    return grouped


def select(
    bars: list[TickBar], *, interval: str, start_ms: int | None, end_ms: int | None, limit: int
) -> list[TickBar]:
    """BingX kline paging over 1m ``bars``: bars whose open lies in [startTime, endTime]; from
    ``startTime`` the first ``limit``, otherwise the last ``limit`` (the latest when no range)."""
    if not bars:
        return []
    first = bars[0].open_time
    width = longest_ms(interval) // MINUTE_MS
    low_ms = bucket_open(interval, max(start_ms, first)) if start_ms is not None else None
    high_ms = end_ms if end_ms is not None else bars[-1].open_time
    if low_ms is None:
        # Enough minutes for ``limit`` bars ending at ``high_ms``, plus one partial bucket.
        low_ms = bucket_open(interval, max(first, high_ms - (limit + 1) * width * MINUTE_MS))
    lo = max(0, (low_ms - first) // MINUTE_MS)
    hi = min(len(bars), (high_ms - first) // MINUTE_MS + 1)
    if interval != "1m" and hi > lo:
        hi = min(
            len(bars),
            (bucket_close(interval, bucket_open(interval, bars[hi - 1].open_time)) - first) // MINUTE_MS + 1,
        )
    grouped = [
        bar
        for bar in aggregate(bars[lo:hi], interval)
        if (start_ms is None or bar.open_time >= start_ms) and bar.open_time <= high_ms
    ]
    return grouped[:limit] if start_ms is not None else grouped[-limit:]
