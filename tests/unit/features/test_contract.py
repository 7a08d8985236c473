"""Parameters, registry and bad source data: errors that name what is wrong."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from unit.features.helpers import assert_agree

from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.runtime.features.inputs import Bar, Bars, Inputs, SourceQuarantine, bar_problem, check_bars
from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec
from tradeplane.runtime.features.registry import FeatureParamError, UnknownFeature
from tradeplane.runtime.features.standard import STANDARD
from tradeplane.runtime.features.standard_set import STANDARD_SET
from tradeplane.runtime.features.synthetic import synthetic_inputs

pytestmark = pytest.mark.unit


def test_unknown_transform_lists_the_known_ones() -> None:
    with pytest.raises(UnknownFeature) as caught:
        STANDARD.get("rsl")
    assert (
        "'rsl'" in str(caught.value) and "rsi" in str(caught.value) and "bollinger.width" in str(caught.value)
    )


@pytest.mark.parametrize(
    ("transform", "params", "words"),
    [
        ("rsi", {"n": 1}, ["'my_col'", "'n'", "integer in [2, 1000]", "got 1"]),
        ("rsi", {"n": "14"}, ["'n'", "must be an integer", "'14'"]),
        ("rsi", {"n": True}, ["'n'", "must be an integer"]),
        ("rsi", {"period": 14}, ["'period'", "not a parameter of rsi", "allowed: n"]),
        ("bollinger.width", {"k": "abc"}, ["'k'", "decimal string"]),
        ("bollinger.width", {"k": "20"}, ["'k'", "decimal in [0.1, 10]", "'20'"]),
        ("bollinger.width", {"k": "NaN"}, ["'k'", "decimal in [0.1, 10]"]),
        ("macd", {"fast": 26, "slow": 12}, ["'fast'", "below slow (12)"]),
        ("atr", {"normalize": 2}, ["'normalize'", "[0, 1]"]),
    ],
)
def test_parameter_errors_name_feature_parameter_and_range(
    transform: str, params: dict[str, object], words: list[str]
) -> None:
    with pytest.raises(FeatureParamError) as caught:
        STANDARD.get(transform).validate(params, name="my_col")
    for word in words:
        assert word in str(caught.value)


def test_validation_fills_defaults_and_parses_decimals() -> None:
    assert STANDARD.get("bollinger.percent_b").validate({"k": "2.50"}) == {"n": 20, "k": Decimal("2.50")}
    assert STANDARD.get("macd").validate({}) == {"fast": 12, "slow": 26, "signal": 9, "normalize": 1}


def test_warmup_is_a_function_of_params() -> None:
    rsi = STANDARD.get("rsi")
    assert rsi.warmup({"n": 14}) == 14 + math.ceil(math.log(1e-6) / math.log(13 / 14))
    assert rsi.warmup({"n": 28}) > rsi.warmup({"n": 14})
    assert STANDARD.get("sma_distance").warmup({"n": 50}) == 49
    assert STANDARD.get("log_return").warmup({"n": 5}) == 5


def test_plan_from_a_featureset_and_context_rules() -> None:
    spec = FeatureSetSpec.model_validate(
        {
            "instrumentRefs": [{"name": "xaut"}],
            "baseInterval": "1m",
            "contextIntervals": ["1h"],
            "features": [
                {"name": "rsi_14", "transform": "rsi"},
                {"name": "ctx_range", "transform": "bar.range", "interval": "1h"},
                {"name": "bb", "transform": "bollinger.width", "params": {"k": "1.5"}},
            ],
        }
    )
    plan = FeaturePlan.from_featureset(spec)
    assert plan.columns == ("rsi_14", "ctx_range", "bb") and plan.context_intervals == ("1h",)
    with pytest.raises(FeatureParamError, match=r"'interval'.*funding\.rate does not read bars"):
        FeaturePlan([FeatureSpec("f", "funding.rate", interval="1h")], base_interval="1m")
    with pytest.raises(ValueError, match="unique"):
        FeaturePlan([FeatureSpec("a", "rsi"), FeatureSpec("a", "atr")], base_interval="1m")


def test_bad_source_rows_are_quarantined_by_stream_index_and_time_never_zero_filled() -> None:
    inputs = synthetic_inputs(300, seed=41)
    close = inputs.bars.close.copy()
    close[120] = math.nan
    volume = inputs.bars.volume.copy()
    volume[200] = -1.0
    broken = Bars(inputs.bars.open_time_ms, inputs.bars.close_time_ms, inputs.bars.open, inputs.bars.high,
                  inputs.bars.low, close, volume)  # fmt: skip
    mark = type(inputs.mark)(
        inputs.mark.time_ms, np.where(np.arange(len(inputs.mark)) == 7, np.inf, inputs.mark.value)
    )
    plan = FeaturePlan(STANDARD_SET, base_interval="1m")
    with pytest.raises(SourceQuarantine) as caught:
        plan.batch(Inputs(broken, inputs.context, inputs.funding, mark, inputs.funding_schedule))
    named = {(row.stream, row.index, row.time_ms) for row in caught.value.rows}
    assert ("bars", 120, int(broken.close_time_ms[120])) in named
    assert ("bars", 200, int(broken.close_time_ms[200])) in named
    assert ("mark", 7, int(mark.time_ms[7])) in named


def test_live_quarantines_a_bad_bar_without_changing_its_state() -> None:
    inputs = synthetic_inputs(300, seed=43)
    plan = FeaturePlan(
        [FeatureSpec("rsi", "rsi", params={"n": 5}), FeatureSpec("sma", "sma_distance")], base_interval="1m"
    )
    live = plan.incremental()
    rows = []
    for index in range(len(inputs.bars)):
        bar = inputs.bars.bar(index)
        if index == 150:
            with pytest.raises(SourceQuarantine, match=r"bars\[150\].*non-finite"):
                live.update(bar._replace(close=math.nan))
        rows.append(live.update(bar))
    assert_agree(plan.batch(inputs), np.array(rows), plan.columns)


@pytest.mark.parametrize(
    "bar",
    [
        Bar(0, 59_999, 10.0, 11.0, 9.0, math.inf, 1.0),
        Bar(0, 59_999, 10.0, 11.0, -9.0, 10.0, 1.0),
        Bar(0, 59_999, 10.0, 11.0, 9.0, 10.0, -1.0),
        Bar(0, 59_999, 10.0, 9.5, 9.0, 10.0, 1.0),
        Bar(0, 59_999, 10.0, 11.0, 10.5, 10.6, 1.0),
        Bar(60_000, 59_999, 10.0, 11.0, 9.0, 10.0, 1.0),
        Bar(0, 59_999, 10.0, 11.0, 9.0, 10.0, 1.0),
    ],
)
def test_live_and_batch_source_rules_are_the_same_rules(bar: Bar) -> None:
    batch = check_bars("bars", Bars.from_bars([bar]))
    live = bar_problem(bar, previous_close_ms=-1)
    assert (live is None) == (not batch)
    assert live is None or live in {row.reason for row in batch}
