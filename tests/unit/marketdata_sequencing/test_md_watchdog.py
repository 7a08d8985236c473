"""StreamWatchdog: silence beyond factor x cadence per stream, with times passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradeplane.runtime.marketdata.watchdog import SilenceCheck, StreamWatchdog, stream_kind

pytestmark = pytest.mark.unit

T0 = datetime(2024, 6, 1, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("BTC-USDT@kline_1m", "kline"),
        ("BTC-USDT@depth5@200ms", "depth"),
        ("BTC-USDT@incrDepth", "incrDepth"),
        ("BTC-USDT@trade", "trade"),
        ("BTC-USDT@markPrice", "markPrice"),
    ],
)
def test_stream_kind(topic: str, kind: str) -> None:
    assert stream_kind(topic) == kind


def test_each_stream_is_overdue_after_factor_times_its_cadence() -> None:
    dog = StreamWatchdog(factor=5)
    for topic in ("BTC-USDT@kline_1m", "BTC-USDT@trade", "BTC-USDT@incrDepth", "BTC-USDT@markPrice"):
        dog.watch(topic, T0)
    assert dog.overdue(T0 + 4 * S) == []  # 5 x 800 ms is not exceeded yet
    assert dog.overdue(T0 + 5 * S) == ["BTC-USDT@incrDepth"]  # exactly 5 s is not beyond
    assert dog.overdue(T0 + 6 * S) == ["BTC-USDT@incrDepth", "BTC-USDT@kline_1m", "BTC-USDT@markPrice"]
    dog.note("BTC-USDT@kline_1m", T0 + 6 * S)
    assert "BTC-USDT@kline_1m" not in dog.overdue(T0 + 10 * S)
    assert dog.overdue(T0 + 151 * S)[-1] == "BTC-USDT@trade"
    assert dog.silence("BTC-USDT@kline_1m", T0 + 10 * S) == 4 * S


def test_note_registers_unknown_streams_and_never_moves_back() -> None:
    dog = StreamWatchdog(factor=2, cadences={"trade": 10 * S})
    dog.note("ETH-USDT@trade", T0)
    dog.note("ETH-USDT@trade", T0 + 15 * S)
    dog.note("ETH-USDT@trade", T0 + 1 * S)  # a late callback
    assert dog.overdue(T0 + 35 * S) == []
    assert dog.overdue(T0 + 36 * S) == ["ETH-USDT@trade"]
    dog.forget("ETH-USDT@trade")
    assert dog.overdue(T0 + 100 * S) == []


def test_unknown_kind_gets_the_most_generous_cadence_and_explicit_cadence_wins() -> None:
    dog = StreamWatchdog()
    assert dog.cadence("BTC-USDT@ticker") == 30 * S
    dog.watch("BTC-USDT@ticker", T0, cadence=S)
    assert dog.overdue(T0 + 6 * S) == ["BTC-USDT@ticker"]


def test_factor_must_be_positive() -> None:
    with pytest.raises(ValueError, match="factor"):
        StreamWatchdog(factor=0)


# --- SilenceCheck: the ingestor's use, on the venue's clock ----------------------------------------

TOPICS = ["XAUT-USDT@kline_1m", "XAUT-USDT@trade"]


def test_silence_is_measured_from_the_connection_and_the_last_push() -> None:
    check = SilenceCheck(TOPICS)
    assert check.check(connection="a", last_push={}, venue_now=T0) == []
    pushed = {"kline_1m": T0 + timedelta(seconds=4), "trade": T0 + timedelta(seconds=4)}
    assert check.check(connection="a", last_push=pushed, venue_now=T0 + timedelta(seconds=9)) == []
    assert check.check(connection="a", last_push=pushed, venue_now=T0 + timedelta(seconds=10)) == [
        "XAUT-USDT@kline_1m"
    ], "kline: 5 x 1 s after its last push; trade: 5 x 30 s, not yet"


def test_a_clock_that_does_not_move_finds_nothing() -> None:
    check = SilenceCheck(TOPICS)
    for _ in range(5):
        assert check.check(connection="a", last_push={}, venue_now=T0) == []


def test_reports_back_off_while_the_venue_stays_dark_and_reset_when_it_pushes() -> None:
    check = SilenceCheck(["XAUT-USDT@kline_1m"])
    check.check(connection="a", last_push={}, venue_now=T0)
    reported = [
        second
        for second in range(1, 200)
        if check.check(connection="a", last_push={}, venue_now=T0 + timedelta(seconds=second))
    ]
    assert reported == [6, 11, 21, 41, 81, 141], "pauses of 5, 10, 20, 40, then capped at 60 s"
    alive = {"kline_1m": T0 + timedelta(seconds=200)}
    assert check.check(connection="a", last_push=alive, venue_now=T0 + timedelta(seconds=201)) == []
    assert check.check(connection="a", last_push=alive, venue_now=T0 + timedelta(seconds=206)) != []


def test_a_new_connection_restarts_every_bound() -> None:
    check = SilenceCheck(["XAUT-USDT@kline_1m"])
    check.check(connection="a", last_push={}, venue_now=T0)
    assert check.check(connection="b", last_push={}, venue_now=T0 + timedelta(seconds=30)) == []
    assert check.check(connection="b", last_push={}, venue_now=T0 + timedelta(seconds=36)) != []
