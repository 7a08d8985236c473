"""The ingestor's per-frame work never raises, whatever the frames say: any sequence of plausible and
broken frames (times anywhere from before the epoch to past the calendar, any interval, ids out of
order, junk values) is stored, counted as a duplicate or refused as a parse error, and every data
frame is accounted for exactly once."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Pipeline
from tradeplane.runtime.millis import MAX_TIME_MS

pytestmark = pytest.mark.unit

SYMBOL = "XAUT-USDT"
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
INTERVALS = ("1m", "1h", "1d", "1w", "1M")
KINDS = ("gzip", "utf8", "json", "shape", "schema", "topic")

DAY_MS = 86_400_000
EDGES = [-1, 0, 1, MAX_TIME_MS - 1, MAX_TIME_MS, MAX_TIME_MS + 1, 2**63]
EDGES += [MAX_TIME_MS - n * DAY_MS + d for n in (1, 7, 31, 32) for d in (-1, 0, 1)]
times = st.one_of(
    st.sampled_from(EDGES),
    st.integers(min_value=MAX_TIME_MS - 40 * DAY_MS, max_value=MAX_TIME_MS + 10),
    st.integers(min_value=1_767_225_600_000, max_value=1_767_225_600_000 + 10**9),
)
prices = st.one_of(
    st.sampled_from(["4000.5", "0", "-1", "1e400", "NaN", "", "4000.50"]), st.integers(), st.none()
)


@st.composite
def frames(draw: st.DrawFn) -> bytes | str:
    when = draw(times)
    stream = draw(st.sampled_from(["kline", "trade", "mark", "depth", "junk"]))
    if stream == "kline":
        interval = draw(st.sampled_from(INTERVALS))
        bar = {"o": draw(prices), "h": "4010", "l": "3990", "c": draw(prices), "v": "1", "T": when}
        body: Any = {
            "code": 0,
            "dataType": f"{SYMBOL}@kline_{interval}",
            "s": SYMBOL,
            "ts": when,
            "data": [bar],
        }
    elif stream == "trade":
        tick = {"q": draw(prices), "p": draw(prices), "T": when, "m": draw(st.booleans()), "s": SYMBOL}
        body = {"code": 0, "dataType": f"{SYMBOL}@trade", "ts": when, "data": [tick]}
    elif stream == "mark":
        body = {
            "code": 0,
            "dataType": f"{SYMBOL}@markPrice",
            "ts": when,
            "data": {"E": when, "s": SYMBOL, "p": draw(prices)},
        }
    elif stream == "depth":
        data = {
            "action": draw(st.sampled_from(["all", "update", "other"])),
            "lastUpdateId": draw(st.integers(min_value=-2, max_value=12)),
            "time": when,
            "bids": [[draw(prices), "1"]],
            "asks": [["4001", draw(prices)]],
        }
        body = {"code": 0, "dataType": f"{SYMBOL}@incrDepth", "ts": when, "data": data}
    else:
        return draw(st.binary(max_size=40))
    text = json.dumps(body)
    return text if draw(st.booleans()) else gzip.compress(text.encode(), mtime=0)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=30), st.integers(min_value=0, max_value=29), st.booleans())
def test_any_frames_are_stored_counted_or_refused_never_raised(
    sequence: list[bytes | str], cut: int, journal: bool
) -> None:
    metrics = IngestMetrics()
    config = IngestorConfig(
        market="fuzz/sim",
        symbol=SYMBOL,
        rest_url="http://127.0.0.1:1",
        ws_url="ws://127.0.0.1:1",
        intervals=INTERVALS,
        depth=True,
    )
    pipeline = Pipeline(config, metrics)
    accepted = 0
    for index, frame in enumerate(sequence):
        pipeline.accept(frame, connection_id="fuzz", received_at=RECEIVED)
        if index == cut:
            accepted += pipeline.take().frames
    accepted += pipeline.take().frames
    refused = sum(metrics.value("tradeplane_ingest_parse_errors_total", kind=kind) for kind in KINDS)
    assert accepted + refused == len(sequence), "each frame is either a data frame or a parse error"
