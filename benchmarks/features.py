"""Feature plane: batch build of the standard set vs plain numpy, and live update latency, same run.

Batch: ``FeaturePlan.batch`` over 1,000,000 seeded 1m bars (with hourly context, funding every 8 h
and mark prices) against a plain-numpy reference of the same formulas written here the way one
would write them without a feature plane: cumulative-sum rolling windows (variance as E[x^2]-E[x]^2),
EMA-type filters by the chunked scaled-cumsum closed form (the fastest plain-numpy EMA we know; a
Python loop would not be a fair reference), ``searchsorted`` for as-of lookups. Ours also validates
every source row first; the reference does not. Throughput is rows x features per second, best of
three; ``ratio = ours / reference`` (target >= 0.5). The reference's deviation from ours is reported
as well, to show it computes the same thing (cumulative sums lose precision; ours does not).

Live: ``IncrementalFeatures.update`` for the whole standard set, 20,000 timed updates after 2,000
untimed ones, each timed with ``time.perf_counter_ns`` with the garbage collector off (as timeit
does); target p99 <= 200 us. Prints one final JSON line.
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tradeplane.runtime.features.inputs import Bars, Inputs
from tradeplane.runtime.features.plan import FeaturePlan
from tradeplane.runtime.features.replay import feed, live_events
from tradeplane.runtime.features.standard_set import STANDARD_SET
from tradeplane.runtime.features.synthetic import synthetic_inputs

SEED = 20_250_101
BARS = 1_000_000
LIVE_WARM = 2_000
LIVE_TIMED = 20_000
TARGET_RATIO = 0.5
TARGET_P99_US = 200.0
LN2 = math.log(2.0)


# ---- the plain-numpy reference ------------------------------------------------------------------


def rolling_sum(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    c = np.cumsum(x)
    out[n - 1] = c[n - 1]
    out[n:] = c[n:] - c[:-n]
    return out


def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    return rolling_sum(x, n) / n


def linear_filter(x: np.ndarray, decay: float, gain: float, y0: float) -> np.ndarray:
    """``y = decay * y + gain * x`` in chunks: ``y_j = decay^j * cumsum(gain x_i decay^-i)`` inside one."""
    length = max(1, min(512, int(math.log(1e4) / -math.log(decay))))
    count = len(x)
    chunks = -(-count // length)
    padded = np.zeros(chunks * length)
    padded[:count] = x
    k = np.arange(length)
    up, down = decay ** (-k.astype(float)), decay ** k.astype(float)
    z = np.cumsum(padded.reshape(chunks, length) * (gain * up), axis=1) * down
    starts = np.empty(chunks)
    y, carry = y0, decay**length
    for i, end in enumerate(z[:, -1].tolist()):
        starts[i] = y
        y = carry * y + end
    return (z + starts[:, None] * (decay * down)).reshape(-1)[:count]


def ema(x: np.ndarray, span: int, start: int = 0) -> np.ndarray:
    a = 2.0 / (span + 1)
    out = np.full(len(x), np.nan)
    out[start] = x[start]
    out[start + 1 :] = linear_filter(x[start + 1 :], 1 - a, a, x[start])
    return out


def wilder(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder smoothing of ``x[1:]`` seeded by the mean of ``x[1 : n + 1]``."""
    out = np.full(len(x), np.nan)
    out[n] = x[1 : n + 1].mean()
    out[n + 1 :] = linear_filter(x[n + 1 :], (n - 1) / n, 1 / n, out[n])
    return out


def as_of(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    i = np.searchsorted(times, at, side="right") - 1
    return np.where(i >= 0, values[np.maximum(i, 0)], np.nan)


def reference(inputs: Inputs) -> np.ndarray:
    b = inputs.bars
    o, h, lo, c, v, t = b.open, b.high, b.low, b.close, b.volume, b.close_time_ms
    prev = np.concatenate([[np.nan], c[:-1]])
    cols: list[np.ndarray] = []
    for n in (1, 15):
        r = np.full(len(c), np.nan)
        r[n:] = np.log(c[n:] / c[:-n])
        cols.append(r)
    r1 = np.log(c / prev)
    cols.append(np.sqrt(rolling_mean(np.nan_to_num(r1) ** 2, 20)))
    cols[-1][:20] = np.nan
    hl = np.log(h / lo) ** 2
    cols.append(np.sqrt(rolling_mean(hl, 20) / (4 * LN2)))
    cols.append(np.sqrt(np.maximum(rolling_mean(0.5 * hl - (2 * LN2 - 1) * np.log(c / o) ** 2, 20), 0)))
    sma = rolling_mean(c, 20)
    cols.append(c / sma - 1)
    cols.append(c / ema(c, 20) - 1)
    up, down = np.maximum(c - prev, 0), np.maximum(prev - c, 0)
    ag, al = wilder(up, 14), wilder(down, 14)
    cols.append(100 * ag / (ag + al))
    tr = np.maximum(h - lo, np.maximum(np.abs(h - prev), np.abs(lo - prev)))
    cols.append(wilder(tr, 14) / c)
    line = ema(c, 12) - ema(c, 26)
    signal = ema(line, 9)
    cols += [line / c, signal / c, (line - signal) / c]
    sd = np.sqrt(np.maximum(rolling_mean(c * c, 20) - sma * sma, 0))
    cols += [(c - (sma - 2 * sd)) / (4 * sd), 4 * sd / sma]
    vm = rolling_mean(v, 20)
    cols.append((v - vm) / np.sqrt(rolling_mean(v * v, 20) - vm * vm))
    vwap = rolling_sum((h + lo + c) / 3 * v, 20) / rolling_sum(v, 20)
    cols += [c / vwap - 1, np.log(c / o), (h - lo) / c]
    cols.append(as_of(inputs.funding.time_ms, inputs.funding.value, t))
    period = 8 * 3_600_000
    cols.append(((t // period + 1) * period - t) / 3_600_000)
    cols.append(as_of(inputs.mark.time_ms, inputs.mark.value, t) / c - 1)
    day, week = (
        2 * np.pi * (t % 86_400_000) / 86_400_000,
        2 * np.pi * ((t - 345_600_000) % 604_800_000) / 604_800_000,
    )
    cols += [np.sin(day), np.cos(day), np.sin(week), np.cos(week)]
    ctx: Bars = inputs.context["1h"]
    i = np.searchsorted(ctx.close_time_ms, t, side="right") - 1
    cols.append(np.where(i >= 0, np.log(ctx.close / ctx.open)[np.maximum(i, 0)], np.nan))
    cols.append(np.where(i >= 0, ((ctx.high - ctx.low) / ctx.close)[np.maximum(i, 0)], np.nan))
    return np.stack(cols, axis=1)


# ---- measurement --------------------------------------------------------------------------------


def interleaved_best(runs: int, *works: Callable[[], np.ndarray]) -> list[tuple[float, np.ndarray]]:
    """Best wall time of each, runs interleaved so a noisy neighbour slows both sides alike."""
    best = [(math.inf, np.empty(0)) for _ in works]
    for _ in range(runs):
        for index, work in enumerate(works):
            start = time.perf_counter()
            result = work()
            elapsed = time.perf_counter() - start
            if elapsed < best[index][0]:
                best[index] = (elapsed, result)
    return best


def live_latency(plan: FeaturePlan, inputs: Inputs) -> list[int]:
    events = list(live_events(inputs.as_of(int(inputs.bars.close_time_ms[LIVE_WARM + LIVE_TIMED - 1]))))
    live = plan.incremental(inputs.funding_schedule)
    for event in events[:LIVE_WARM]:
        feed(live, event)
    clock, samples = time.perf_counter_ns, []
    gc.collect()
    gc.disable()
    try:
        for event in events[LIVE_WARM:]:
            start = clock()
            feed(live, event)
            samples.append(clock() - start)
    finally:
        gc.enable()
    return sorted(samples)


def run(bars: int = BARS) -> dict[str, Any]:
    inputs = synthetic_inputs(bars, seed=SEED)
    plan = FeaturePlan(STANDARD_SET, base_interval="1m")
    columns = len(plan.columns)
    (ours_s, ours), (reference_s, ref) = interleaved_best(
        5, lambda: plan.batch(inputs), lambda: reference(inputs)
    )
    assert ref.shape == ours.shape, (ref.shape, ours.shape)
    trusted = ours[plan.warmup :]
    deviation = np.abs(trusted - ref[plan.warmup :]) / np.maximum(1.0, np.abs(trusted))
    worst = np.nanmax(deviation, axis=0)
    latency = live_latency(plan, inputs)
    p50, p99 = latency[len(latency) // 2] / 1000, latency[int(0.99 * len(latency))] / 1000
    result = {
        "bars": bars,
        "features": columns,
        "ours_cells_per_s": round(bars * columns / ours_s),
        "reference_cells_per_s": round(bars * columns / reference_s),
        "ours_batch_s": round(ours_s, 3),
        "reference_batch_s": round(reference_s, 3),
        "ratio": round(reference_s / ours_s, 3),
        "max_rel_deviation_vs_reference": float(f"{np.max(worst):.3g}"),
        "live_updates": len(latency),
        "live_p50_us": round(p50, 1),
        "live_p99_us": round(p99, 1),
    }
    result["target_met"] = result["ratio"] >= TARGET_RATIO and p99 <= TARGET_P99_US
    print(f"feature batch over {bars} 1m bars x {columns} features (best of 5, interleaved)")
    print(f"  ours       {ours_s:6.3f} s  {result['ours_cells_per_s']:>12,} cells/s")
    print(f"  reference  {reference_s:6.3f} s  {result['reference_cells_per_s']:>12,} cells/s")
    for name, error in zip(plan.columns, worst, strict=True):
        print(f"    {name:16s} max relative deviation of the reference {error:.2e}")
    print(f"live update, whole set: p50 {p50:.1f} us  p99 {p99:.1f} us over {len(latency)} bars")
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    sys.exit(0 if run()["target_met"] else 1)
