"""Batch and live are the same numbers: every feature, a seeded history, and any history Hypothesis finds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.features.helpers import assert_agree

from tradeplane.runtime.features.inputs import Bars, FundingSchedule, Inputs, Series
from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec
from tradeplane.runtime.features.replay import replay
from tradeplane.runtime.features.standard_set import STANDARD_SET
from tradeplane.runtime.features.synthetic import START_MS, synthetic_inputs

pytestmark = pytest.mark.unit

VARIANTS = (
    FeatureSpec("ctx_1h_rsi_5", "rsi", interval="1h", params={"n": 5}),
    FeatureSpec("ctx_1h_ret_3", "log_return", interval="1h", params={"n": 3}),
    FeatureSpec("atr_raw", "atr", params={"n": 7, "normalize": 0}),
    FeatureSpec("macd_raw", "macd", params={"fast": 5, "slow": 13, "signal": 4, "normalize": 0}),
    FeatureSpec(
        "macd_hist_raw", "macd.histogram", params={"fast": 5, "slow": 13, "signal": 4, "normalize": 0}
    ),
    FeatureSpec("bb_k_1_5", "bollinger.percent_b", params={"n": 7, "k": "1.5"}),
)
HISTORY = synthetic_inputs(6_000, seed=11)


@pytest.fixture(scope="module")
def standard_rows() -> tuple[FeaturePlan, np.ndarray, np.ndarray]:
    plan = FeaturePlan((*STANDARD_SET, *VARIANTS), base_interval="1m")
    return plan, plan.batch(HISTORY), replay(plan, HISTORY)


@pytest.mark.parametrize("spec", [*STANDARD_SET, *VARIANTS], ids=lambda spec: spec.name)
def test_every_feature_agrees_batch_and_live_after_its_warmup(
    standard_rows: tuple[FeaturePlan, np.ndarray, np.ndarray], spec: FeatureSpec
) -> None:
    plan, batch, live = standard_rows
    column = plan.columns.index(spec.name)
    warmup = plan.column_warmups[column]
    assert warmup < 5_000, "the history must reach past the warm-up for this test to say anything"
    assert_agree(batch[:, [column]], live[:, [column]], (spec.name,))
    assert np.isnan(batch[:warmup, column]).all()
    assert np.isfinite(batch[warmup:, column]).all(), "a synthetic random walk has a value after warm-up"


def test_plan_warmup_is_the_longest_column_and_context_warmup_is_counted_in_base_bars() -> None:
    plan = FeaturePlan((*STANDARD_SET, *VARIANTS), base_interval="1m")
    assert plan.warmup == max(plan.column_warmups)
    rsi_context = plan.column_warmups[plan.columns.index("ctx_1h_rsi_5")]
    rsi_base = FeaturePlan([FeatureSpec("r", "rsi", params={"n": 5})], base_interval="1h").warmup
    assert rsi_context == (rsi_base + 2) * 60 - 1


@st.composite
def histories(draw: st.DrawFn) -> Inputs:
    count = draw(st.integers(min_value=1, max_value=160))
    steps = draw(
        st.lists(st.sampled_from([0.0, 0.0, 1e-3, -1e-3, 2.5e-2, -2.5e-2]), min_size=count, max_size=count)
    )
    wicks = draw(st.lists(st.sampled_from([0.0, 1e-4, 3e-3]), min_size=count, max_size=count))
    volumes = draw(st.lists(st.sampled_from([0.0, 1.0, 7.5, 1e4]), min_size=count, max_size=count))
    close = 100.0 * np.exp(np.cumsum(steps))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + np.asarray(wicks))
    low = np.minimum(open_, close) * (1 - np.asarray(wicks))
    times = START_MS + 60_000 * np.arange(count, dtype=np.int64)
    bars = Bars(times, times + 59_999, open_, high, low, close, np.asarray(volumes))
    funding_times = np.arange(START_MS - 3_600_000, int(times[-1]) + 60_000, 1_800_000, dtype=np.int64)
    funding = Series(funding_times, np.linspace(-1e-4, 3e-4, len(funding_times)))
    mark_times = times[::3] + 30_000
    mark = Series(mark_times, close[::3] * 1.0002)
    return Inputs(bars, {}, funding, mark, FundingSchedule(period_ms=4 * 3_600_000))


SHORT_PLAN = FeaturePlan(
    [
        FeatureSpec("ret", "log_return", params={"n": 2}),
        FeatureSpec("rv", "realized_vol.close_to_close", params={"n": 4}),
        FeatureSpec("park", "realized_vol.parkinson", params={"n": 3}),
        FeatureSpec("gk", "realized_vol.garman_klass", params={"n": 3}),
        FeatureSpec("sma", "sma_distance", params={"n": 5}),
        FeatureSpec("ema", "ema_distance", params={"n": 3}),
        FeatureSpec("rsi", "rsi", params={"n": 3}),
        FeatureSpec("atr", "atr", params={"n": 3}),
        FeatureSpec("macd", "macd.signal", params={"fast": 2, "slow": 4, "signal": 2}),
        FeatureSpec("pctb", "bollinger.percent_b", params={"n": 4, "k": "2"}),
        FeatureSpec("width", "bollinger.width", params={"n": 4, "k": "0.5"}),
        FeatureSpec("vz", "volume_zscore", params={"n": 4}),
        FeatureSpec("vwap", "vwap_distance", params={"n": 4}),
        FeatureSpec("funding", "funding.rate"),
        FeatureSpec("to_next", "funding.time_to_next"),
        FeatureSpec("basis", "basis.mark"),
        FeatureSpec("hour", "time.hour_cos"),
    ],
    base_interval="1m",
)


@settings(max_examples=60)
@given(histories())
def test_any_history_agrees_and_is_nan_before_warmup_and_finite_after(inputs: Inputs) -> None:
    batch = SHORT_PLAN.batch(inputs)
    live = replay(SHORT_PLAN, inputs)
    assert_agree(batch, live, SHORT_PLAN.columns)
    for column, warmup in enumerate(SHORT_PLAN.column_warmups):
        assert np.isnan(batch[:warmup, column]).all()
    trusted = batch[SHORT_PLAN.warmup :]
    # flat prices, zero volume and empty windows have defined values; NaN only means "not known yet"
    known = trusted[:, [c for c in range(len(SHORT_PLAN.columns)) if SHORT_PLAN.columns[c] != "basis"]]
    assert np.isfinite(known).all()
