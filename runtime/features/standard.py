"""The standard feature set: formulas only; :mod:`kernels` turns each into a batch column and a live step.

Why formulas look the way they do: each is written once and must give the same bits on a whole
history and on one window, on any machine. So every window sum is :func:`~.ordered.ordered_sum`
(left to right; ``numpy.sum``, ``einsum`` and ``dot`` sum in an order and with fused multiply-adds
that depend on the array layout, the SIMD build and the BLAS), over window temporaries built
column-major (``order="F"``, so that sum walks contiguous columns); squares are products, never
``x ** 2`` (on a scalar that is libm's ``pow``); logarithms, sines and cosines come from
:mod:`portable_math`, not numpy or libm, whose last bits depend on the CPU (AVX-512, FMA).
Windows are centred on the current value before summing
(``close / sma - 1 == -mean(w - c) / (c + mean(w - c))``) and recursive filters run on price
changes, never on price levels (see :mod:`recurrence`), so the values are accurate too. Degenerate
windows have defined values instead of NaN (a flat window has %B 0.5 and volume z-score 0),
because NaN means only "not ready".

Units: returns are natural-log per window; volatilities are per bar (not annualised); distances are
``value / reference - 1``; ATR and MACD are divided by the close unless ``normalize: 0``, so a model
trained on one price level sees the same scale at another; RSI is on Wilder's 0..100 scale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tradeplane.crds.feature_parameters import STANDARD_PARAMETERS
from tradeplane.runtime.features import portable_math
from tradeplane.runtime.features.inputs import Bar, Bars, FloatArray, FundingSchedule, Inputs
from tradeplane.runtime.features.kernels import (
    Instant,
    Kernel,
    Known,
    Memo,
    Rolling,
    Smoothed,
    Step,
    previous_bars,
)
from tradeplane.runtime.features.ordered import ordered_sum
from tradeplane.runtime.features.phase import Phase
from tradeplane.runtime.features.recurrence import Recurrence
from tradeplane.runtime.features.registry import FeatureDef, FeatureParamError, Normalised, Registry, Stream
from tradeplane.runtime.intervals import WEEK_ORIGIN_MS
from tradeplane.runtime.millis import DAY_MS, HOUR_MS, WEEK_MS

LN2 = portable_math.log(2.0)

BARS = frozenset({Stream.BARS})
STANDARD = Registry()


def _ratio(numerator: Any, denominator: Any, fallback: float) -> Any:
    """``numerator / denominator``, or ``fallback`` where the denominator is exactly zero (NaN stays NaN)."""
    zero = denominator == 0
    return np.where(zero, fallback, numerator / np.where(zero, 1.0, denominator))


# ---- per-bar terms: (bar, previous bar) -> value ------------------------------------------------


def _close(bar: Any, previous: Any) -> Any:
    return bar.close


def _volume(bar: Any, previous: Any) -> Any:
    return bar.volume


def _typical_price(bar: Any, previous: Any) -> Any:
    return (bar.high + bar.low + bar.close) / 3.0


def _log_change(bar: Any, previous: Any) -> Any:
    return portable_math.log(bar.close / previous.close)


def _change(bar: Any, previous: Any) -> Any:
    return bar.close - previous.close


def _gain(bar: Any, previous: Any) -> Any:
    return np.maximum(bar.close - previous.close, 0.0)


def _loss(bar: Any, previous: Any) -> Any:
    return np.maximum(previous.close - bar.close, 0.0)


def _true_range(bar: Any, previous: Any) -> Any:
    return np.maximum(
        bar.high - bar.low, np.maximum(abs(bar.high - previous.close), abs(bar.low - previous.close))
    )


def _parkinson_term(bar: Any, previous: Any) -> Any:
    spread = portable_math.log(bar.high / bar.low)
    return spread * spread  # not ``** 2``: a scalar power is libm's pow, an array's is a multiply


def _garman_klass_term(bar: Any, previous: Any) -> Any:
    spread, body = portable_math.log(bar.high / bar.low), portable_math.log(bar.close / bar.open)
    return 0.5 * (spread * spread) - (2.0 * LN2 - 1.0) * (body * body)


def _bar_return(bar: Any, previous: Any) -> Any:
    return portable_math.log(bar.close / bar.open)


def _bar_range(bar: Any, previous: Any) -> Any:
    return (bar.high - bar.low) / bar.close


# ---- window formulas: trailing windows on the last axis -------------------------------------------


def _last(window: Any) -> Any:
    return window[..., -1]


def _log_return(close: Any) -> Any:
    return portable_math.log(close[..., -1] / close[..., 0])


def _root_mean(window: Any, scale: float = 1.0) -> Any:
    return np.sqrt(np.maximum(ordered_sum(window) / (window.shape[-1] * scale), 0.0))


def _root_mean_square(window: Any) -> Any:
    return np.sqrt(ordered_sum(np.multiply(window, window, order="F")) / window.shape[-1])


def _mean_offset(close: Any) -> Any:
    """``mean(w) - c`` from ``w - c``: small numbers, so no cancellation against the price level."""
    return ordered_sum(np.subtract(close, close[..., -1:], order="F")) / close.shape[-1]


def _centred(close: Any) -> tuple[Any, Any]:
    """Mean offset ``mean(w) - c`` and population standard deviation, both from ``w - c``.

    The variance is ``mean(d^2) - mean(d)^2`` of the offsets ``d``, which are of the order of the
    deviation itself, so the subtraction loses only a few ulps (unlike raw-price ``E[x^2] - E[x]^2``).
    """
    offset = np.subtract(close, close[..., -1:], order="F")
    mean = ordered_sum(offset) / close.shape[-1]
    square = ordered_sum(np.multiply(offset, offset, order="F")) / close.shape[-1]
    return mean, np.sqrt(np.maximum(square - mean * mean, 0.0))


def _sma_distance(close: Any) -> Any:
    offset = _mean_offset(close)
    return -offset / (close[..., -1] + offset)


def _percent_b(close: Any, k: float) -> Any:
    offset, deviation = _centred(close)
    return _ratio(-offset, 2.0 * k * deviation, 0.0) + 0.5


def _band_width(close: Any, k: float) -> Any:
    offset, deviation = _centred(close)
    return 2.0 * k * deviation / (close[..., -1] + offset)


def _zscore(window: Any) -> Any:
    offset, deviation = _centred(window)
    return _ratio(-offset, deviation, 0.0)


def _vwap_distance(typical: Any, volume: Any, close: Any) -> Any:
    """``close / vwap - 1`` from ``vwap - close = sum((tp - c) v) / sum(v)``; no volume means vwap = close."""
    total = ordered_sum(volume)
    weighted = np.multiply(np.subtract(typical, close[..., -1:], order="F"), volume, order="F")
    offset = _ratio(ordered_sum(weighted), total, 0.0)
    return -offset / (close[..., -1] + offset)


# ---- point-in-time formulas: (close_time_ms, close, funding, mark, schedule) ----------------------


def _hours_to_next_funding(time_ms: Any, schedule: FundingSchedule) -> Any:
    """Settlement strictly after the close: a bar closing on a settlement waits a whole period."""
    after = (
        schedule.offset_ms + ((time_ms - schedule.offset_ms) // schedule.period_ms + 1) * schedule.period_ms
    )
    return (after - time_ms) / HOUR_MS


# ---- MACD: three chained recurrences, so it has its own kernel ------------------------------------

MACD_PARTS = ("line", "signal", "histogram")


def _macd_output(part: str, normalize: bool, close: Any, line: Any, histogram: Any) -> Any:
    value = line if part == "line" else histogram if part == "histogram" else line - histogram
    return value / close if normalize else value


class Macd(Kernel):
    """``ema_fast - ema_slow`` as ``gap_slow - gap_fast``; histogram is the gap of the line to its EMA.

    Seeds: the price EMAs start at the first close, the signal EMA at the first MACD value (bar 1,
    the first bar where the two price EMAs can differ); the warm-up outlasts both seeds.
    """

    def __init__(self, fast: int, slow: int, signal: int, part: str, normalize: bool) -> None:
        self.fast, self.slow = Recurrence.gap_decay(fast), Recurrence.gap_decay(slow)
        self.signal, self.part, self.normalize = Recurrence.gap_decay(signal), part, normalize
        self.first_valid = 1 if part == "line" else 2
        self.warmup = self.first_valid + self.slow.memory + (0 if part == "line" else self.signal.memory)

    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> FloatArray:
        key = ("macd", self.fast, self.slow, self.signal)
        if key not in memo:
            change = _change(bars, previous_bars(bars, memo))
            line = self.slow.run(change) - self.fast.run(change)
            line_change = np.full(len(line), math.nan)
            line_change[1:] = line[1:] - line[:-1]
            memo[key] = line, self.signal.run(line_change)
        line, histogram = memo[key]
        return np.asarray(
            _macd_output(self.part, self.normalize, bars.close, line, histogram), dtype=np.float64
        )

    def step(self) -> Step:
        fast, slow, signal = self.fast.stepper(), self.slow.stepper(), self.signal.stepper()
        part, normalize = self.part, self.normalize
        last_line = math.nan

        def update(bar: Bar, previous: Bar, known: Known) -> float:
            nonlocal last_line
            change = bar.close - previous.close
            line = slow(change) - fast(change)
            histogram = signal(line - last_line)
            last_line = line
            return float(_macd_output(part, normalize, bar.close, line, histogram))

        return update


def _macd_order(feature: str, params: Normalised) -> None:
    if not params["fast"] < params["slow"]:
        raise FeatureParamError(
            feature, "fast", f"must be below slow ({params['slow']}), got {params['fast']}"
        )


# ---- the registry ---------------------------------------------------------------------------------


def _define(
    transform: str, doc: str, build: Any, *, inputs: frozenset[Stream] = BARS, check: Any = None
) -> None:
    """Register ``transform`` with its parameters as ``crds.feature_parameters`` declares them."""
    STANDARD.register(FeatureDef(transform, doc, inputs, build, STANDARD_PARAMETERS[transform], check))


_define(
    "log_return",
    "log(close[t] / close[t-n])",
    lambda p: Rolling((_close,), p["n"] + 1, _log_return, term_lag=0),
)
_define(
    "realized_vol.close_to_close",
    "sqrt(mean of squared 1-bar log returns over n bars), per bar",
    lambda p: Rolling((_log_change,), p["n"], _root_mean_square, term_lag=1),
)
_define(
    "realized_vol.parkinson",
    "sqrt(mean(ln(high/low)^2) / (4 ln 2)) over n bars",
    lambda p: Rolling((_parkinson_term,), p["n"], lambda w: _root_mean(w, 4.0 * LN2), term_lag=0),
)
_define(
    "realized_vol.garman_klass",
    "sqrt(mean(0.5 ln(h/l)^2 - (2 ln 2 - 1) ln(c/o)^2)) over n bars",
    lambda p: Rolling((_garman_klass_term,), p["n"], _root_mean, term_lag=0),
)
_define(
    "sma_distance",
    "close / sma(close, n) - 1",
    lambda p: Rolling((_close,), p["n"], _sma_distance, term_lag=0),
)
_define(
    "ema_distance",
    "close / ema(close, n) - 1, EMA seeded by the first close",
    lambda p: Smoothed((_change,), (Recurrence.gap_decay(p["n"]),), lambda b, g: g / (b.close - g), 1),
)
_define(
    "rsi",
    "Wilder's RSI over n bars, 0..100 (50 when price has not moved)",
    lambda p: Smoothed(
        (_gain, _loss),
        (Recurrence.wilder(p["n"]),) * 2,
        lambda b, up, down: _ratio(100.0 * up, up + down, 50.0),
        1,
    ),
)
_define(
    "atr",
    "Wilder's average true range over n bars, divided by the close unless normalize is 0",
    lambda p: Smoothed(
        (_true_range,),
        (Recurrence.wilder(p["n"]),),
        (lambda b, atr: atr / b.close) if p["normalize"] else (lambda b, atr: atr),
        1,
    ),
)
for _part in MACD_PARTS:
    _define(
        "macd" if _part == "line" else f"macd.{_part}",
        f"MACD {_part} (EMA fast - EMA slow; signal is its EMA), divided by the close unless normalize is 0",
        lambda p, part=_part: Macd(p["fast"], p["slow"], p["signal"], part, bool(p["normalize"])),
        check=_macd_order,
    )
_define(
    "bollinger.percent_b",
    "(close - lower) / (upper - lower) for bands mean +- k population std over n bars",
    lambda p: Rolling((_close,), p["n"], lambda w, k=float(p["k"]): _percent_b(w, k), term_lag=0),
)
_define(
    "bollinger.width",
    "(upper - lower) / middle for bands mean +- k population std over n bars",
    lambda p: Rolling((_close,), p["n"], lambda w, k=float(p["k"]): _band_width(w, k), term_lag=0),
)
_define(
    "volume_zscore",
    "(volume - mean) / population std of volume over n bars (0 for a flat window)",
    lambda p: Rolling((_volume,), p["n"], _zscore, term_lag=0),
)
_define(
    "vwap_distance",
    "close / vwap - 1, vwap of the typical price (h+l+c)/3 weighted by volume over n bars",
    lambda p: Rolling((_typical_price, _volume, _close), p["n"], _vwap_distance, term_lag=0),
)
_define("bar.return", "log(close / open) of the bar", lambda p: Rolling((_bar_return,), 1, _last, term_lag=0))
_define(
    "bar.range", "(high - low) / close of the bar", lambda p: Rolling((_bar_range,), 1, _last, term_lag=0)
)
_define(
    "funding.rate",
    "the last funding rate published at or before the bar's close",
    lambda p: Instant(lambda t, c, funding, mark, s: funding, reads=frozenset({"funding"})),
    inputs=frozenset({Stream.FUNDING}),
)
_define(
    "funding.time_to_next",
    "hours from the bar's close to the next settlement strictly after it",
    lambda p: Instant(
        lambda t, c, f, m, schedule: _hours_to_next_funding(t, schedule), reads=frozenset({"schedule"})
    ),
    inputs=frozenset({Stream.FUNDING_SCHEDULE}),
)
_define(
    "basis.mark",
    "mark / close - 1 with the last mark price known at the bar's close",
    lambda p: Instant(lambda t, close, f, mark, s: mark / close - 1.0, reads=frozenset({"mark"})),
    inputs=frozenset({Stream.MARK}),
)
for _name, _origin, _period, _cosine in (
    ("time.hour_sin", 0, DAY_MS, False),
    ("time.hour_cos", 0, DAY_MS, True),
    ("time.weekday_sin", WEEK_ORIGIN_MS, WEEK_MS, False),
    ("time.weekday_cos", WEEK_ORIGIN_MS, WEEK_MS, True),
):
    _define(
        _name,
        f"{_name[-3:]} of the close time's phase in the {'day' if _period == DAY_MS else 'week'} (UTC)",
        lambda p, o=_origin, n=_period, cosine=_cosine: Phase(o, n, cosine=cosine),
        inputs=frozenset({Stream.CLOCK}),
    )
