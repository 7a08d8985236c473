"""Recorded OHLCV bars (CSV or Parquet: open_time, open, high, low, close, volume) played back as a
symbol's market instead of the seeded process.

The file's timeline is moved so its first bar opens at the simulator's start minute, and
``replay_speed`` compresses it (a 1h file at speed 60 plays as 1m bars). Inside a bar the price walks
open -> the nearer extreme -> the other extreme -> close, so the bar's OHLC is reproduced exactly
once its minute has passed, and its volume accrues evenly over the minute.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from tradeplane.runtime.millis import MINUTE_MS

COLUMNS = ("open_time", "open", "high", "low", "close", "volume")
SECONDS = 60


@dataclass(frozen=True)
class RecordedBar:
    open: int
    high: int
    low: int
    close: int
    volume: int

    def price_at(self, second: int) -> int:
        """The path through the bar: waypoints at seconds 0, 20, 40 and 59, linear in between."""
        first, second_extreme = (
            (self.high, self.low) if self.high - self.open <= self.open - self.low else (self.low, self.high)
        )
        waypoints = ((0, self.open), (20, first), (40, second_extreme), (SECONDS - 1, self.close))
        for (start, begin), (end, finish) in itertools.pairwise(waypoints):
            if second <= end:
                return begin + (finish - begin) * (second - start) // (end - start)
        return self.close

    def volume_until(self, second: int) -> int:
        return self.volume * (second + 1) // SECONDS


def _read_table(path: Path) -> pa.Table:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pq.read_table(path, columns=list(COLUMNS))
    options = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in COLUMNS[1:]} | {"open_time": pa.int64()},
        include_columns=list(COLUMNS),
    )
    return pa_csv.read_csv(path, convert_options=options)


def _units(value: object, unit: Decimal, *, name: str) -> int:
    amount = Decimal(str(value)) / unit
    if amount != amount.to_integral_value():
        raise ValueError(f"replayed {name} {value} is not a multiple of {unit}")
    return int(amount)


def load(
    path: Path, *, tick: Decimal, step: Decimal, start_minute_ms: int, speed: float
) -> dict[int, RecordedBar]:
    """Bars by their served open time; prices must already be on the contract's tick."""
    table = _read_table(path).sort_by("open_time")
    rows = table.to_pylist()
    if not rows:
        raise ValueError(f"{path} holds no bars")
    origin = int(rows[0]["open_time"])
    served: dict[int, RecordedBar] = {}
    for row in rows:
        offset = (int(row["open_time"]) - origin) / speed
        if offset % MINUTE_MS:
            raise ValueError(f"{path}: at replay speed {speed} a bar does not land on a minute")
        served[start_minute_ms + int(offset)] = RecordedBar(
            open=_units(row["open"], tick, name="open"),
            high=_units(row["high"], tick, name="high"),
            low=_units(row["low"], tick, name="low"),
            close=_units(row["close"], tick, name="close"),
            volume=int(Decimal(str(row["volume"])) / step),
        )
    return served
