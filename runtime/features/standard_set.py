"""The standard set as one contract: every standard transform once, plus hourly context columns.

Why a module: tests, the look-ahead check and the benchmark must measure the same columns, and a
FeatureSet author wants a complete starting point to copy.
"""

from __future__ import annotations

from tradeplane.runtime.features.plan import FeatureSpec

STANDARD_SET: tuple[FeatureSpec, ...] = (
    FeatureSpec("ret_1", "log_return"),
    FeatureSpec("ret_15", "log_return", params={"n": 15}),
    FeatureSpec("rv_cc_20", "realized_vol.close_to_close"),
    FeatureSpec("rv_parkinson_20", "realized_vol.parkinson"),
    FeatureSpec("rv_gk_20", "realized_vol.garman_klass"),
    FeatureSpec("sma_dist_20", "sma_distance"),
    FeatureSpec("ema_dist_20", "ema_distance"),
    FeatureSpec("rsi_14", "rsi"),
    FeatureSpec("atr_14", "atr"),
    FeatureSpec("macd", "macd"),
    FeatureSpec("macd_signal", "macd.signal"),
    FeatureSpec("macd_hist", "macd.histogram"),
    FeatureSpec("bb_pct_b", "bollinger.percent_b", params={"n": 20, "k": "2"}),
    FeatureSpec("bb_width", "bollinger.width", params={"n": 20, "k": "2"}),
    FeatureSpec("volume_z_20", "volume_zscore"),
    FeatureSpec("vwap_dist_20", "vwap_distance"),
    FeatureSpec("bar_return", "bar.return"),
    FeatureSpec("bar_range", "bar.range"),
    FeatureSpec("funding_rate", "funding.rate"),
    FeatureSpec("funding_hours", "funding.time_to_next"),
    FeatureSpec("mark_basis", "basis.mark"),
    FeatureSpec("hour_sin", "time.hour_sin"),
    FeatureSpec("hour_cos", "time.hour_cos"),
    FeatureSpec("weekday_sin", "time.weekday_sin"),
    FeatureSpec("weekday_cos", "time.weekday_cos"),
    FeatureSpec("ctx_1h_return", "bar.return", interval="1h"),
    FeatureSpec("ctx_1h_range", "bar.range", interval="1h"),
)
