"""One seeded window of venue-simulator history through every feature path, and its golden vectors.

Why it exists: batch (dataset builder, trainer), incremental (executor) and the Parquet table a
backtest reads must be the same numbers, and they must stay the same numbers across refactors. This
module builds :class:`Inputs` from the simulator's own deterministic history (its market model,
without starting the HTTP server: the history is a pure function of seed, symbol and start), writes
the feature table with the dataset snapshot's own writer and reads it back the way a backtest must
(the contract fingerprint in the schema metadata checked against the expected contract), and
(de)serialises golden vectors with exact floats (``repr`` round-trips every float64 in Python's JSON).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tradeplane.runtime.features.compat import ContractMismatch, FeatureBatch
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.inputs import Bars, FloatArray, FundingSchedule, Inputs, IntArray, Series
from tradeplane.runtime.features.plan import FeatureSpec
from tradeplane.runtime.features.snapshot import COLUMNS_KEY, FINGERPRINT_KEY, TIME_COLUMNS, parquet_bytes
from tradeplane.runtime.features.standard_set import STANDARD_SET
from tradeplane.runtime.millis import HOUR_MS, MINUTE_MS
from tradeplane.runtime.venue.sim.bars import aggregate, bucket_close
from tradeplane.runtime.venue.sim.catalog import CATALOG
from tradeplane.runtime.venue.sim.market import Market, SymbolMarket

GOLDEN_FORMAT = 1
DEFAULT_START_TIME_MS = 1_767_571_200_000
"""The simulator's default start (``SimConfig.start_time_ms``), 2026-01-05 00:00 UTC."""

PARITY_FEATURES: tuple[FeatureSpec, ...] = (
    *STANDARD_SET,
    FeatureSpec("ctx_1h_ret_3", "log_return", interval="1h", params={"n": 3}),
)
"""The standard set (with its two 1h context columns) plus a multi-bar 1h context column."""


@dataclass(frozen=True)
class SimWindow:
    """Which simulator history: ``history_minutes`` closed 1m bars before ``start_time_ms``; the base
    series skips the first ``skip_minutes`` so it starts mid-hour while 1h context covers whole hours."""

    seed: int = 7
    symbol: str = "XAUT-USDT"
    start_time_ms: int = DEFAULT_START_TIME_MS
    history_minutes: int = 660
    skip_minutes: int = 56

    def document(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "symbol": self.symbol,
            "startTimeMs": self.start_time_ms,
            "historyMinutes": self.history_minutes,
            "skipMinutes": self.skip_minutes,
        }


def parity_contract() -> FeatureContract:
    return FeatureContract.build(PARITY_FEATURES, base_interval="1m", context_intervals=("1h",), clip="5")


def _bars(market: SymbolMarket, sim_bars: list[Any], interval: str) -> Bars:
    opens = np.array([bar.open_time for bar in sim_bars], dtype=np.int64)
    closes = np.array([bucket_close(interval, bar.open_time) for bar in sim_bars], dtype=np.int64)

    def prices(name: str) -> FloatArray:
        return np.array([float(market.price_decimal(getattr(bar, name))) for bar in sim_bars])

    volume = np.array([float(market.quantity_decimal(bar.volume)) for bar in sim_bars])
    return Bars(opens, closes, prices("open"), prices("high"), prices("low"), prices("close"), volume)


def sim_inputs(window: SimWindow = SimWindow()) -> Inputs:
    """Closed 1m bars, whole 1h context bars, funding settlements (rates known at settlement) and
    1m mark closes (known at each minute's close), all from the simulator's seeded history."""
    spec = CATALOG[window.symbol]
    market = Market(
        {window.symbol: spec},
        seed=window.seed,
        start_time_ms=window.start_time_ms,
        history_minutes=window.history_minutes,
    )[window.symbol]
    minutes = market.bars[: window.history_minutes]  # the last bar is the one opening at the start
    first, end = minutes[0].open_time, minutes[-1].open_time + MINUTE_MS - 1
    hours = [
        bar
        for bar in aggregate(minutes, "1h")
        if bar.open_time >= first and bucket_close("1h", bar.open_time) <= end
    ]
    base = _bars(market, minutes[window.skip_minutes :], "1m")
    period = spec.funding_interval_hours * HOUR_MS
    settlements = [market.settlement(t) for t in market.settlement_times(first - period, end)]
    funding = Series(
        np.array([s.time_ms for s in settlements], dtype=np.int64),
        np.array([float(s.rate) for s in settlements]),
    )
    mark = Series(
        np.array([bar.open_time + MINUTE_MS - 1 for bar in minutes], dtype=np.int64),
        np.array([float(market.price_decimal(bar.mark_close)) for bar in minutes]),
    )
    return Inputs(base, {"1h": _bars(market, hours, "1h")}, funding, mark, FundingSchedule(period_ms=period))


def inputs_digest(inputs: Inputs) -> str:
    """A hash of every input array, so a golden test can tell "the simulator changed" from "a feature did"."""
    digest = hashlib.sha256()
    streams: list[tuple[str, Bars | Series]] = [("bars", inputs.bars)]
    streams += [(f"context[{k}]", inputs.context[k]) for k in sorted(inputs.context)]
    streams += [("funding", inputs.funding), ("mark", inputs.mark)]
    for name, stream in streams:
        digest.update(name.encode())
        for field in type(stream).__dataclass_fields__:
            digest.update(
                np.ascontiguousarray(getattr(stream, field))
                .astype("<i8" if field.endswith("_ms") else "<f8")
                .tobytes()
            )
    return "sha256:" + digest.hexdigest()


# ---- the backtest's data path: the dataset snapshot's Parquet file ---------------------------------


def write_feature_table(path: Path, contract: FeatureContract, bars: Bars, matrix: FloatArray) -> None:
    """The file the dataset builder writes (:func:`snapshot.parquet_bytes`, the one implementation)."""
    data = parquet_bytes(
        bars.open_time_ms, bars.close_time_ms, matrix, contract.column_names, contract.fingerprint
    )
    path.write_bytes(data)


def read_feature_table(path: Path, expected: FeatureContract) -> tuple[IntArray, FeatureBatch]:
    """Close times (ms) and the feature batch of a snapshot file, refused unless it was written for
    ``expected``: what a trainer or backtest must call before trusting the columns."""
    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    if FINGERPRINT_KEY not in metadata:
        raise ContractMismatch(
            expected.fingerprint[:19], "none", other=("the table carries no feature contract",)
        )
    names = tuple(name for name in table.column_names if name not in TIME_COLUMNS)
    if COLUMNS_KEY in metadata and tuple(json.loads(metadata[COLUMNS_KEY])) != names:
        raise ValueError(f"{path}: the columns in the schema metadata are not the table's columns")
    values = np.column_stack([table.column(name).to_numpy() for name in names]).astype(np.float64)
    batch = FeatureBatch(metadata[FINGERPRINT_KEY].decode(), names, values)
    batch.check(expected)
    close = table.column("close_time").cast(pa.int64()).to_numpy().astype(np.int64)
    return close, batch


# ---- golden vectors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Golden:
    """Rows from the contract's warm-up on: the reference every path must reproduce."""

    window: SimWindow
    inputs_digest: str
    contract: FeatureContract
    first_row: int
    close_time_ms: tuple[int, ...]
    rows: FloatArray


def golden_from(
    window: SimWindow, inputs: Inputs, contract: FeatureContract, matrix: FloatArray, rows: int
) -> Golden:
    first = contract.warmup
    if len(matrix) < first + rows:
        raise ValueError(f"need {first + rows} base bars for {rows} golden rows, have {len(matrix)}")
    return Golden(
        window,
        inputs_digest(inputs),
        contract,
        first,
        tuple(int(t) for t in inputs.bars.close_time_ms[first : first + rows]),
        matrix[first : first + rows].copy(),
    )


def dump_golden(golden: Golden) -> str:
    """JSON, one row per line (reviewable diffs); floats as ``repr``, which reloads bit-exactly."""
    if np.isnan(golden.rows).any():
        raise ValueError("golden rows must be past every column's warm-up (no NaN)")
    head = {
        "format": GOLDEN_FORMAT,
        "source": golden.window.document(),
        "inputsDigest": golden.inputs_digest,
        "fingerprint": golden.contract.fingerprint,
        "contract": json.loads(golden.contract.to_json()),
        "firstRow": golden.first_row,
        "columns": list(golden.contract.column_names),
        "closeTimeMs": list(golden.close_time_ms),
    }
    lines = [json.dumps([float(v) for v in row]) for row in golden.rows]
    text = json.dumps(head, sort_keys=True)[:-1] + ',"rows":[\n' + ",\n".join(lines) + "\n]}\n"
    return text


def load_golden(text: str) -> Golden:
    document = json.loads(text)
    if document["format"] != GOLDEN_FORMAT:
        raise ValueError(f"golden format {document['format']!r} is not supported")
    source = document["source"]
    contract = FeatureContract.from_json(json.dumps(document["contract"]))
    if contract.fingerprint != document["fingerprint"]:
        raise ValueError("golden file: stored contract does not match its stored fingerprint")
    return Golden(
        SimWindow(
            source["seed"],
            source["symbol"],
            source["startTimeMs"],
            source["historyMinutes"],
            source["skipMinutes"],
        ),
        document["inputsDigest"],
        contract,
        document["firstRow"],
        tuple(document["closeTimeMs"]),
        np.array(document["rows"], dtype=np.float64),
    )
