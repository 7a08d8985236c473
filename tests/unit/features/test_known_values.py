"""Formulas against numbers worked out by hand or by textbook, independent of the code under test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradeplane.runtime.features.inputs import Bars, FundingSchedule, Inputs, Series
from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec
from tradeplane.runtime.features.standard import STANDARD
from tradeplane.runtime.features.synthetic import START_MS

pytestmark = pytest.mark.unit

# Wilder's RSI example as published by StockCharts ("RSI" ChartSchool article), 14 periods
RSI_CLOSES = [44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61,
              46.28, 46.28, 46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.45, 45.78, 45.35,
              44.03, 44.18, 44.22, 44.57, 43.42, 42.66, 43.13]  # fmt: skip
RSI_PUBLISHED = [70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42,
                 39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77]  # fmt: skip


def bars_from(
    high: list[float], low: list[float], close: list[float], volume: list[float] | None = None
) -> Bars:
    times = START_MS + 60_000 * np.arange(len(close), dtype=np.int64)
    open_ = [(h + lo) / 2 for h, lo in zip(high, low, strict=True)]
    volumes = np.asarray(volume if volume is not None else [1.0] * len(close))
    return Bars(
        times,
        times + 59_999,
        np.asarray(open_),
        np.asarray(high),
        np.asarray(low),
        np.asarray(close),
        volumes,
    )


def raw(transform: str, bars: Bars, **params: int | str) -> np.ndarray:
    """The kernel's own column, before the plan's warm-up mask (textbook examples are short)."""
    kernel = STANDARD.get(transform).kernel(params)
    return kernel.batch(bars, Inputs(bars), {})


def test_rsi_matches_wilders_published_example() -> None:
    closes = RSI_CLOSES
    values = raw("rsi", bars_from([c + 0.1 for c in closes], [c - 0.1 for c in closes], closes), n=14)
    assert np.isnan(values[:14]).all()
    # first 14 changes: gains sum to 3.34, losses to 1.40 (worked by hand from the closes)
    assert values[14] == pytest.approx(100 * 3.34 / (3.34 + 1.40), rel=1e-12)
    # StockCharts rounds its running averages to two decimals, which moves RSI by up to ~0.07
    np.testing.assert_allclose(values[14:], RSI_PUBLISHED, atol=0.08)


def test_atr_by_hand() -> None:
    # true ranges from bar 1: 2, 2.5 (gap up: 13 - 10.5), 0.8, 1.4; seed mean(2, 2.5, 0.8), then Wilder
    bars = bars_from([10, 11, 13, 12.8, 12.4], [8, 9, 12, 12.0, 11.0], [9, 10.5, 12.5, 12.2, 11.2])
    values = raw("atr", bars, n=3, normalize=0)
    seed = (2 + 2.5 + 0.8) / 3
    np.testing.assert_allclose(values[3:], [seed, (seed * 2 + 1.4) / 3], rtol=1e-14)
    assert np.isnan(values[:3]).all()
    normalised = raw("atr", bars, n=3)
    assert normalised[4] == pytest.approx(values[4] / 11.2, rel=1e-14)


def ema_loop(values: list[float], span: int) -> list[float]:
    alpha, out = 2 / (span + 1), [values[0]]
    for value in values[1:]:
        out.append(out[-1] + alpha * (value - out[-1]))
    return out


def test_macd_defaults_match_a_plain_ema_loop() -> None:
    rng = np.random.default_rng(3)
    closes = list(2000 * np.exp(np.cumsum(rng.normal(0, 1e-3, 400))))
    bars = bars_from([c * 1.001 for c in closes], [c * 0.999 for c in closes], closes)
    line = [f - s for f, s in zip(ema_loop(closes, 12), ema_loop(closes, 26), strict=True)]
    signal = [math.nan, *ema_loop(line[1:], 9)]  # the signal EMA starts at the first MACD value, bar 1
    ours_line, ours_signal, ours_hist = (
        raw(t, bars, normalize=0) for t in ("macd", "macd.signal", "macd.histogram")
    )
    np.testing.assert_allclose(ours_line[1:], line[1:], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours_signal[2:], signal[2:], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours_hist[2:], np.subtract(line, signal)[2:], rtol=1e-9, atol=1e-10)
    scaled = raw("macd", bars)
    assert scaled[-1] == pytest.approx(line[-1] / closes[-1], rel=1e-9)


def test_bollinger_by_hand() -> None:
    bars = bars_from([1.5, 2.5, 3.5, 4.5, 5.5], [0.5, 1.5, 2.5, 3.5, 4.5], [1, 2, 3, 4, 5])
    # mean 3, population std sqrt(2): bands 3 -+ 2 sqrt(2)
    assert raw("bollinger.percent_b", bars, n=5, k="2")[4] == pytest.approx(
        0.5 + 1 / (2 * math.sqrt(2)), rel=1e-14
    )
    assert raw("bollinger.width", bars, n=5, k="2")[4] == pytest.approx(4 * math.sqrt(2) / 3, rel=1e-14)
    flat = bars_from([2.0] * 5, [1.0] * 5, [1.5] * 5)
    assert raw("bollinger.percent_b", flat, n=5)[4] == 0.5


def test_parkinson_and_garman_klass_by_formula() -> None:
    high, low, close = [10.2, 10.6, 10.4], [9.9, 10.1, 9.7], [10.1, 10.3, 9.8]
    bars = bars_from(high, low, close)
    opens = bars.open.tolist()
    hl = [math.log(h / lo) ** 2 for h, lo in zip(high, low, strict=True)]
    co = [math.log(c / o) ** 2 for c, o in zip(close, opens, strict=True)]
    parkinson = math.sqrt(sum(hl) / (3 * 4 * math.log(2)))
    garman_klass = math.sqrt(
        sum(0.5 * a - (2 * math.log(2) - 1) * b for a, b in zip(hl, co, strict=True)) / 3
    )
    assert raw("realized_vol.parkinson", bars, n=3)[2] == pytest.approx(parkinson, rel=1e-14)
    assert raw("realized_vol.garman_klass", bars, n=3)[2] == pytest.approx(garman_klass, rel=1e-14)
    returns = [math.log(close[1] / close[0]), math.log(close[2] / close[1])]
    cc = raw("realized_vol.close_to_close", bars, n=2)
    assert cc[2] == pytest.approx(math.sqrt(sum(r * r for r in returns) / 2), rel=1e-14)
    assert np.isnan(cc[:2]).all()


def test_returns_distances_and_vwap_by_hand() -> None:
    bars = bars_from([11, 12, 13, 14], [9, 10, 11, 12], [10, 11, 12, 13], volume=[1, 2, 3, 4])
    assert raw("log_return", bars, n=3)[3] == pytest.approx(math.log(13 / 10), rel=1e-14)
    assert raw("sma_distance", bars, n=4)[3] == pytest.approx(13 / 11.5 - 1, rel=1e-13)
    ema = ema_loop([10, 11, 12, 13], 3)[-1]
    assert raw("ema_distance", bars, n=3)[3] == pytest.approx(13 / ema - 1, rel=1e-13)
    vwap = (10 * 1 + 11 * 2 + 12 * 3 + 13 * 4) / 10  # typical price equals close here
    assert raw("vwap_distance", bars, n=4)[3] == pytest.approx(13 / vwap - 1, rel=1e-13)
    volumes = np.array([1.0, 2, 3, 4])
    assert raw("volume_zscore", bars, n=4)[3] == pytest.approx(
        (4 - volumes.mean()) / volumes.std(), rel=1e-13
    )


def test_funding_mark_and_clock_use_what_is_known_at_the_close() -> None:
    hour = 3_600_000
    bars = bars_from([11, 11, 11], [9, 9, 9], [10, 10, 10])
    close_ms = bars.close_time_ms
    funding = Series(
        np.array([START_MS - 8 * hour, int(close_ms[1]) + 1], dtype=np.int64), np.array([1e-4, 5e-4])
    )
    mark = Series(np.array([int(close_ms[0]), int(close_ms[1]) + 1], dtype=np.int64), np.array([10.1, 99.0]))
    plan = FeaturePlan(
        [
            FeatureSpec("f", "funding.rate"),
            FeatureSpec("next", "funding.time_to_next"),
            FeatureSpec("basis", "basis.mark"),
            FeatureSpec("hour_sin", "time.hour_sin"),
            FeatureSpec("weekday_cos", "time.weekday_cos"),
        ],
        base_interval="1m",
    )
    rows = plan.batch(Inputs(bars, {}, funding, mark, FundingSchedule()))
    np.testing.assert_allclose(rows[:, 0], [1e-4, 1e-4, 5e-4])  # published 1 ms after bar 1 closed
    # 2024-01-01 00:00:59.999 -> next settlement 08:00
    assert rows[0, 1] == pytest.approx((8 * hour - 59_999) / hour, rel=1e-14)
    np.testing.assert_allclose(rows[:, 2], [0.01, 0.01, 8.9], rtol=1e-12)
    assert rows[0, 3] == pytest.approx(math.sin(2 * math.pi * 59_999 / (24 * hour)), rel=1e-12)
    # 2024-01-01 was a Monday: the week's phase is (nearly) zero
    assert rows[0, 4] == pytest.approx(1.0, abs=1e-6)
    one = np.array([10.0])
    settlement = np.array([START_MS + 8 * hour], dtype=np.int64)
    on_settlement = Bars(settlement - 60_000, settlement, one, one, one, one, one)
    waits = plan.batch(Inputs(on_settlement, {}, funding, mark, FundingSchedule()))[0, 1]
    assert waits == 8.0, "a bar closing exactly on a settlement waits for the next one"
