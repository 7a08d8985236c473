"""The ingest pipeline without I/O: frames as BingX sends them (gzip JSON) become rows in the pending
batch, each with its frame's hash; malformed frames are counted by the stage that refused them,
journaled with a note and skipped. Expectations are computed from the frames the tests build."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tradeplane.runtime.marketdata.depth_book import StoredFrameInvalid, stored_levels
from tradeplane.runtime.marketdata.frames import utc_from_ms
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Pipeline, stream_of
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.millis import MAX_TIME_MS

pytestmark = pytest.mark.unit

SYMBOL = "XAUT-USDT"
KEY = MarketKey("tests/sim", SYMBOL)
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)


def config(**overrides: Any) -> IngestorConfig:
    values: dict[str, Any] = {"depth": True, "holder": "unit", "journal": True}
    values.update(overrides)
    return IngestorConfig(
        market=KEY.market,
        symbol=KEY.symbol,
        rest_url="http://127.0.0.1:1",
        ws_url="ws://127.0.0.1:1",
        **values,
    )


def gz(body: dict[str, Any] | str) -> bytes:
    return gzip.compress((body if isinstance(body, str) else json.dumps(body)).encode(), mtime=0)


def kline(open_ms: int, close: str, volume: str, *, ts: int | None = None, topic: str = "kline_1m") -> bytes:
    bar = {"o": "4000.0", "h": "4010.0", "l": "3990.0", "c": close, "v": volume, "T": open_ms}
    return gz({"code": 0, "dataType": f"{SYMBOL}@{topic}", "s": SYMBOL, "ts": ts or open_ms, "data": [bar]})


def trade(time_ms: int, price: str, qty: str) -> bytes:
    data = [{"q": qty, "p": price, "T": time_ms, "m": True, "s": SYMBOL}]
    return gz({"code": 0, "dataType": f"{SYMBOL}@trade", "ts": time_ms, "data": data})


def depth(update_id: int, action: str, bids: list[list[str]], asks: list[list[str]]) -> bytes:
    data = {"action": action, "lastUpdateId": update_id, "time": T0 + update_id, "bids": bids, "asks": asks}
    return gz({"code": 0, "dataType": f"{SYMBOL}@incrDepth", "ts": T0 + update_id, "data": data})


def mark(time_ms: int, price: str) -> bytes:
    data = {"e": "markPriceUpdate", "E": time_ms, "s": SYMBOL, "p": price}
    return gz({"code": 0, "dataType": f"{SYMBOL}@markPrice", "ts": time_ms, "data": data})


def feed(pipeline: Pipeline, *frames: bytes | str) -> None:
    for frame in frames:
        pipeline.accept(frame, connection_id="c1", received_at=RECEIVED)


def test_kline_rollover_closes_the_bar_and_records_skipped_minutes() -> None:
    metrics = IngestMetrics()
    pipeline = Pipeline(config(), metrics)
    first = kline(T0, "4001.5", "3")
    feed(pipeline, kline(T0, "4001.0", "1"), first, first, kline(T0 + 240_000, "4002.0", "2"))
    batch = pipeline.take()
    assert batch.frames == 4 and len(batch) == 4
    assert [(i, c.open_time, c.close, c.volume, c.closed, c.confirmed) for i, c, _ in batch.candles] == [
        ("1m", RECEIVED, Decimal("4001.5"), Decimal("3"), True, False)
    ]
    # the bar came from the frame that carried its final values: its provenance is that frame's hash
    assert batch.candles[0][2].payload_hash == hashlib.sha256(first).hexdigest()
    minute = timedelta(minutes=1)
    assert batch.gaps == [("1m", RECEIVED + minute, RECEIVED + 3 * minute)]
    assert metrics.value("tradeplane_ingest_duplicates_total", stream="kline_1m") == 1
    assert metrics.value("tradeplane_ingest_frames_total", stream="kline_1m") == 4
    assert batch.exchange_time == RECEIVED + 4 * minute
    assert pipeline.last_event["kline_1m"] == RECEIVED + 4 * minute
    assert [entry.payload for entry in batch.journal][1] == first
    assert pipeline.take().frames == 0


def test_trades_are_deduplicated_by_synthetic_key() -> None:
    metrics = IngestMetrics()
    pipeline = Pipeline(config(), metrics)
    one, two = trade(T0 + 1000, "4000.1", "0.5"), trade(T0 + 2000, "4000.2", "0.25")
    feed(pipeline, one, two, one)
    batch = pipeline.take()
    assert [(row.time, row.price, row.quantity, row.buyer_is_maker) for row, _ in batch.trades] == [
        (RECEIVED + timedelta(seconds=1), Decimal("4000.1"), Decimal("0.5"), True),
        (RECEIVED + timedelta(seconds=2), Decimal("4000.2"), Decimal("0.25"), True),
    ]
    assert metrics.value("tradeplane_ingest_duplicates_total", stream="trade") == 1


def test_depth_snapshot_updates_and_a_break_asks_for_a_resync() -> None:
    metrics = IngestMetrics()
    pipeline = Pipeline(config(), metrics)
    snapshot = depth(10, "all", [["3999", "1"]], [["4001", "2"]])
    update = depth(11, "update", [["3998", "1"]], [])
    feed(pipeline, snapshot, update, update)
    batch = pipeline.take()
    assert [(row.update_id, row.action, row.frame) for row, _ in batch.depth] == [
        (10, "all", snapshot),
        (11, "update", update),
    ], "each row keeps the frame it came in, byte for byte"
    assert [stored_levels(row.frame) for row, _ in batch.depth] == [
        ([("3999", "1")], [("4001", "2")]),
        ([("3998", "1")], []),
    ]
    assert batch.depth[0][0].exchange_time == RECEIVED + timedelta(milliseconds=10)
    assert metrics.value("tradeplane_ingest_duplicates_total", stream="incrDepth") == 1
    assert pipeline.resync == set()
    # four updates ahead of the missing id 12 overflow the reorder buffer of three
    feed(pipeline, *(depth(n, "update", [], [["4002", "1"]]) for n in (13, 14, 15, 16)))
    assert pipeline.resync == {f"{SYMBOL}@incrDepth"}
    assert metrics.value("tradeplane_ingest_depth_resyncs_total") == 1
    assert pipeline.take().depth == []


def test_updates_released_from_the_reorder_buffer_keep_their_own_frame_and_provenance() -> None:
    pipeline = Pipeline(config(), IngestMetrics())
    frames = {
        n: depth(n, "update" if n > 10 else "all", [[str(3990 + n), "1"]], []) for n in (10, 11, 12, 13)
    }
    for n in (10, 13, 12, 11):  # 13 and 12 wait in the buffer until 11 arrives
        pipeline.accept(frames[n], connection_id=f"conn-{n}", received_at=RECEIVED + timedelta(seconds=n))
    rows = pipeline.take().depth
    assert [row.update_id for row, _ in rows] == [10, 11, 12, 13]
    for row, provenance in rows:
        n = row.update_id
        assert row.frame == frames[n]
        assert provenance.payload_hash == hashlib.sha256(frames[n]).hexdigest()
        assert (provenance.connection_id, provenance.received_at) == (
            f"conn-{n}",
            RECEIVED + timedelta(seconds=n),
        )


def test_a_text_depth_frame_is_stored_as_its_utf8_and_read_back() -> None:
    pipeline = Pipeline(config(), IngestMetrics())
    data = {"action": "all", "lastUpdateId": 5, "time": T0, "bids": [["1.50", "2"]], "asks": [["2", "1"]]}
    text = json.dumps({"code": 0, "dataType": f"{SYMBOL}@incrDepth", "data": data})
    feed(pipeline, text)
    [(row, _)] = pipeline.take().depth
    assert row.frame == text.encode()
    assert stored_levels(row.frame) == ([("1.50", "2")], [("2", "1")])


@pytest.mark.parametrize(
    "frame",
    [b"\x1f\x8bnot gzip", b"{not json", b'{"code":0,"dataType":"XAUT-USDT@trade","data":[]}', b"\xff\xfe"],
)
def test_a_stored_frame_that_is_not_an_incr_depth_push_is_refused(frame: bytes) -> None:
    with pytest.raises(StoredFrameInvalid):
        stored_levels(frame)


def test_depth_update_without_time_is_stamped_with_its_arrival() -> None:
    pipeline = Pipeline(config(), IngestMetrics())
    data = {"action": "all", "lastUpdateId": 5, "bids": [["1", "1"]], "asks": [["2", "1"]]}
    feed(pipeline, gz({"code": 0, "dataType": f"{SYMBOL}@incrDepth", "data": data}))
    batch = pipeline.take()
    assert batch.depth[0][0].exchange_time == RECEIVED
    assert batch.exchange_time is None and pipeline.last_event == {}


def test_mark_prices_keep_exchange_time_and_price() -> None:
    pipeline = Pipeline(config(), IngestMetrics())
    feed(pipeline, mark(T0 + 500, "4000.25"))
    (when, price, provenance) = pipeline.take().marks[0]
    assert (when, price, provenance.source, provenance.connection_id) == (
        RECEIVED + timedelta(milliseconds=500),
        Decimal("4000.25"),
        "ws",
        "c1",
    )


def test_heartbeats_acks_and_unsubscribed_topics_store_nothing() -> None:
    metrics = IngestMetrics()
    pipeline = Pipeline(config(), metrics)
    ack = gz({"id": "x", "code": 0, "msg": ""})
    five = [kline(T0, "1", "1", topic="kline_5m"), kline(T0 + 300_000, "1", "2", topic="kline_5m")]
    feed(pipeline, gz("Ping"), "Pong", ack, *five)
    batch = pipeline.take()
    assert batch.candles == [] and batch.gaps == []
    assert batch.frames == 2  # the two data frames of a topic nobody subscribed count, store nothing
    assert metrics.value("tradeplane_ingest_parse_errors_total", kind="json") == 0


MALFORMED: list[tuple[str, bytes | str]] = [
    ("gzip", b"\x1f\x8b\x08\x00garbage"),
    ("gzip", gzip.compress(b'{"a": 1}')[:-6]),
    ("utf8", gzip.compress(b"\xff\xfe\xfd")),
    ("json", gz("{not json")),
    ("shape", gz("[1, 2]")),
    ("topic", gz({"code": 0, "dataType": "nonsense", "data": []})),
    ("schema", gz({"code": 0, "dataType": f"{SYMBOL}@kline_1m", "data": [{"o": "1", "T": T0}]})),
    ("schema", gz({"code": 0, "dataType": f"{SYMBOL}@trade", "data": [{"q": "x", "p": "1", "T": T0}]})),
    ("schema", gz({"code": 0, "dataType": f"{SYMBOL}@markPrice", "data": {"E": T0, "p": "-5", "s": SYMBOL}})),
    ("topic", gz({"code": 0, "dataType": f"{SYMBOL}@ticker", "data": {}})),
]


def test_malformed_frames_are_counted_by_kind_journaled_and_skipped() -> None:
    metrics = IngestMetrics()
    pipeline = Pipeline(config(), metrics)
    for _kind, frame in MALFORMED:
        feed(pipeline, frame)
    feed(pipeline, mark(T0, "4000"))
    batch = pipeline.take()
    expected: dict[str, int] = {}
    for kind, _frame in MALFORMED:
        expected[kind] = expected.get(kind, 0) + 1
    for kind, count in expected.items():
        assert metrics.value("tradeplane_ingest_parse_errors_total", kind=kind) == count, kind
    assert batch.frames == 1 and len(batch.marks) == 1
    refused = batch.journal[: len(MALFORMED)]
    assert [entry.note.split(":")[0] for entry in refused] == [f"refused {kind}" for kind, _ in MALFORMED]
    assert [entry.payload for entry in refused] == [
        frame if isinstance(frame, bytes) else frame.encode() for _kind, frame in MALFORMED
    ]
    assert refused[0].data_type == "<undecodable>"
    assert refused[-1].data_type == f"{SYMBOL}@ticker"


def test_without_journal_only_refused_frames_are_journaled() -> None:
    metrics = IngestMetrics()
    pipeline = Pipeline(config(journal=False), metrics)
    feed(pipeline, b"junk", mark(T0, "4000"))
    batch = pipeline.take()
    assert [(entry.payload, entry.note.split(":")[0]) for entry in batch.journal] == [
        (b"junk", "refused gzip")
    ]
    assert len(batch.marks) == 1, "the good frame is stored, not journaled"
    assert metrics.value("tradeplane_ingest_parse_errors_total", kind="gzip") == 1


@pytest.mark.parametrize("stamp", ["soon", -1, None])
def test_unusable_push_times_leave_the_venue_clock_alone(stamp: object) -> None:
    pipeline = Pipeline(config(), IngestMetrics())
    data = {"e": "markPriceUpdate", "E": T0, "s": SYMBOL, "p": "1"}
    feed(pipeline, gz({"code": 0, "dataType": f"{SYMBOL}@markPrice", "ts": stamp, "data": data}))
    batch = pipeline.take()
    assert batch.exchange_time is None and len(batch.marks) == 1


def test_stream_label_of_topics() -> None:
    assert stream_of(f"{SYMBOL}@kline_1m") == "kline_1m"
    assert stream_of("noatsign") == "unknown"


@pytest.mark.parametrize("interval", ["1m", "1d", "1w", "1M"])
def test_times_at_the_edge_of_the_calendar_are_refused_or_stored_never_a_crash(interval: str) -> None:
    """The last accepted millisecond converts, and every bar computed from it fits a datetime; the
    first refused one is a schema error. Frames stamped 9999-12-31 used to pass the payload check and
    then raise in ``utc_from_ms`` (journal entry, batch time), ending the ingestor."""
    metrics = IngestMetrics()
    pipeline = Pipeline(config(intervals=(interval,)), metrics)
    last, refused = MAX_TIME_MS - 1, MAX_TIME_MS
    topic = f"kline_{interval}"
    feed(pipeline, mark(last, "4000"), trade(last, "4000", "1"), kline(last - 1, "4001", "1", topic=topic))
    feed(pipeline, kline(last, "4002", "1", topic=topic))
    for frame in (
        mark(refused, "4000"),
        trade(refused, "4000", "1"),
        kline(refused, "4000", "1", topic=topic),
    ):
        feed(pipeline, frame)
    batch = pipeline.take()
    assert (len(batch.marks), len(batch.trades), batch.frames) == (1, 1, 4)
    assert metrics.value("tradeplane_ingest_parse_errors_total", kind="schema") == 3
    assert batch.exchange_time == utc_from_ms(last)
