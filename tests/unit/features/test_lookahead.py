"""No look-ahead: context bars only once closed; the checker catches a planted future-peeking feature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from unit.features.helpers import assert_agree

from tradeplane.runtime.features.inputs import Bar, Bars, Inputs, Point
from tradeplane.runtime.features.kernels import Kernel, Known, Memo, Step
from tradeplane.runtime.features.leakage import (
    LookAheadDetected,
    assert_no_lookahead,
    check_no_lookahead,
    spread_rows,
)
from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec, LookAheadError
from tradeplane.runtime.features.registry import FeatureDef, Stream
from tradeplane.runtime.features.replay import replay
from tradeplane.runtime.features.standard import STANDARD
from tradeplane.runtime.features.standard_set import STANDARD_SET
from tradeplane.runtime.features.synthetic import random_walk_bars, synthetic_inputs

pytestmark = pytest.mark.unit

HOUR = 3_600_000
MINUTE = 60_000
EIGHT_AM = 1_704_096_000_000  # 2024-01-01 08:00 UTC


def test_a_context_bar_is_used_only_once_it_has_closed() -> None:
    base = random_walk_bars(185, seed=5, start_ms=EIGHT_AM)  # 08:00 .. 11:04 opens
    opens = EIGHT_AM + HOUR * np.arange(
        4, dtype=np.int64
    )  # 08:00, 09:00, 10:00, 11:00 (closes after the base)
    ranges = np.array([0.01, 0.02, 0.03, 0.04])  # tells the context bars apart
    flat = np.full(4, 100.0)
    context = Bars(opens, opens + HOUR - 1, flat, 100 + 100 * ranges, flat, flat, np.ones(4))
    inputs = Inputs(base, {"1h": context})
    plan = FeaturePlan([FeatureSpec("ctx_range", "bar.range", interval="1h")], base_interval="1m")
    rows = plan.batch(inputs)[:, 0]
    live = replay(plan, inputs)[:, 0]
    row_of = {int((t - EIGHT_AM) // MINUTE): t for t in base.open_time_ms.tolist()}
    at_10_58, at_10_59 = 2 * 60 + 58, 2 * 60 + 59
    assert at_10_58 in row_of and plan.warmup <= at_10_58
    # the 1m bar 10:58-10:59 closes at 10:58:59.999: 10:00-11:00 is still open, so 09:00-10:00 is used
    assert rows[at_10_58] == pytest.approx(0.02) and live[at_10_58] == rows[at_10_58]
    # the 1m bar 10:59-11:00 closes at 10:59:59.999, the same instant as the 10:00-11:00 bar
    assert rows[at_10_59] == pytest.approx(0.03) and live[at_10_59] == rows[at_10_59]
    assert not np.any(np.isclose(rows, 0.04)), "the 11:00 bar closes after every base bar"


def test_live_refuses_a_context_bar_or_observation_from_after_the_bar() -> None:
    plan = FeaturePlan(
        [FeatureSpec("ctx", "bar.return", interval="1h"), FeatureSpec("b", "basis.mark")], base_interval="1m"
    )
    live = plan.incremental()
    bar = Bar(EIGHT_AM, EIGHT_AM + MINUTE - 1, 100.0, 101.0, 99.0, 100.5, 3.0)
    still_open = Bar(EIGHT_AM, EIGHT_AM + HOUR - 1, 100.0, 101.0, 99.0, 100.5, 30.0)
    with pytest.raises(LookAheadError, match=r"context\[1h\]"):
        live.update(bar, context={"1h": [still_open]})
    with pytest.raises(LookAheadError, match="mark"):
        live.update(bar, mark=[Point(EIGHT_AM + MINUTE, 100.0)])
    row = live.update(bar, mark=[Point(EIGHT_AM + MINUTE - 1, 100.5)])
    assert row[1] == 0.0 and math.isnan(row[0])


class PeekNextClose(Kernel):
    """Test-only: reads the next bar's close, the classic off-by-one leak."""

    first_valid = warmup = 0

    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> np.ndarray:
        out = np.full(len(bars), math.nan)
        out[:-1] = bars.close[1:] / bars.close[:-1] - 1
        return out

    def step(self) -> Step:
        return lambda bar, previous, known: math.nan


class PeekOpenContextBar(Kernel):
    """Test-only: the baseline system's bug, the context bar that contains the base bar (still open)."""

    first_valid = warmup = 0

    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> np.ndarray:
        context = inputs.context["1h"]
        index = np.searchsorted(context.open_time_ms, bars.close_time_ms, side="right") - 1
        return np.where(index >= 0, context.close[np.maximum(index, 0)], math.nan)

    def step(self) -> Step:
        def update(bar: Bar, previous: Bar, known: Known) -> float:
            return math.nan

        return update


def test_the_checker_catches_and_names_planted_future_peeking_features() -> None:
    registry = STANDARD.copy()
    registry.register(
        FeatureDef("test.peek_next_close", "leaks", frozenset({Stream.BARS}), lambda p: PeekNextClose())
    )
    registry.register(
        FeatureDef("test.open_context", "leaks", frozenset({Stream.CLOCK}), lambda p: PeekOpenContextBar())
    )
    specs = [
        *STANDARD_SET,
        FeatureSpec("planted_next", "test.peek_next_close"),
        FeatureSpec("planted_open_ctx", "test.open_context"),
    ]
    inputs = synthetic_inputs(700, seed=23)
    plan = FeaturePlan(specs, base_interval="1m", registry=registry)
    rows = spread_rows(len(inputs.bars), 12, start=plan.warmup)
    leaks = check_no_lookahead(plan, inputs, rows)
    assert {leak.feature for leak in leaks} == {"planted_next", "planted_open_ctx"}
    # every sampled row but the last, where the next close does not exist even with the future
    assert {leak.row for leak in leaks if leak.feature == "planted_next"} == set(rows) - {
        len(inputs.bars) - 1
    }
    with pytest.raises(LookAheadDetected, match="planted_next, planted_open_ctx"):
        assert_no_lookahead(plan, inputs, rows)


def test_the_standard_set_has_no_lookahead_including_context_and_warmup_rows() -> None:
    inputs = synthetic_inputs(600, seed=29)
    rows = [0, 1, 59, 60, 118, 119, 120, *spread_rows(600, 10, start=121)]
    assert check_no_lookahead(STANDARD_SET, inputs, rows) == []


def test_live_state_agrees_with_batch_when_fed_late_context_in_one_go() -> None:
    """Context bars arriving together (after a reconnect) still advance the context state in order."""
    inputs = synthetic_inputs(400, seed=31)
    plan = FeaturePlan(
        [FeatureSpec("ctx_ret", "log_return", interval="1h", params={"n": 2})], base_interval="1m"
    )
    assert_agree(plan.batch(inputs), replay(plan, inputs), plan.columns)
