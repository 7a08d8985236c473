"""Invalid specs the API server must reject, each with the field its error must name.

At least 25 distinct cases across every kind; the unit tests check pydantic rejects the same objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness.cluster import ClusterHandle
from harness.crds import create, get_object, resource
from integration.crd_examples import DELETE, EXAMPLES, Invalid, example

pytestmark = pytest.mark.integration

_LIVE = {"spec.mode": "live", "spec.endpoints.rest": "https://open-api.bingx.com"}
_LIVE_WS = {**_LIVE, "spec.endpoints.websocket": "wss://open-api-swap.bingx.com/swap-market"}

# fmt: off
INVALID: list[Invalid] = [
    # Venue
    Invalid("venue-live-without-credentials", "Venue", {**_LIVE_WS, "spec.credentials": DELETE},
            "spec.credentials", "spec.credentials is required when spec.mode is live"),
    Invalid("venue-live-plain-http", "Venue", {"spec.mode": "live"},
            "spec.endpoints", "must use https:// and wss:// when spec.mode is live"),
    Invalid("venue-api-key-value-in-credentials", "Venue", {"spec.credentials.apiKey": "AKIA-not-allowed"},
            "spec.credentials.apiKey", "unknown field"),
    Invalid("venue-secret-value-in-spec", "Venue", {"spec.secretKey": "s3cr3t"},
            "spec.secretKey", "unknown field"),
    Invalid("venue-dead-man-too-short", "Venue", {"spec.deadManTimeout": "5s"},
            "spec.deadManTimeout", "between 10s and 120s"),
    Invalid("venue-duration-not-go-syntax", "Venue", {"spec.refresh.metadata": "ten minutes"},
            "spec.refresh.metadata", "should match"),
    Invalid("venue-unknown-exchange", "Venue", {"spec.exchange": "binance"},
            "spec.exchange", "Unsupported value"),
    Invalid("venue-unknown-mode", "Venue", {"spec.mode": "demo"},
            "spec.mode", "Unsupported value"),
    Invalid("venue-websocket-scheme", "Venue", {"spec.endpoints.websocket": "http://127.0.0.1:1"},
            "spec.endpoints.websocket", "should match"),
    # Instrument
    Invalid("instrument-symbol-without-hyphen", "Instrument", {"spec.symbol": "XAUTUSDT"},
            "spec.symbol", "should match"),
    Invalid("instrument-symbol-lowercase", "Instrument", {"spec.symbol": "xaut-usdt"},
            "spec.symbol", "should match"),
    Invalid("instrument-missing-venue", "Instrument", {"spec.venueRef": DELETE},
            "spec.venueRef", "Required value"),
    Invalid("instrument-unknown-kline-interval", "Instrument", {"spec.streams.klines.intervals": ["7m"]},
            "spec.streams.klines.intervals[0]", "Unsupported value"),
    Invalid("instrument-duplicate-kline-interval", "Instrument",
            {"spec.streams.klines.intervals": ["1m", "1m"]},
            "spec.streams.klines.intervals[1]", "Duplicate value"),
    Invalid("instrument-depth-levels", "Instrument", {"spec.streams.depth.levels": 7},
            "spec.streams.depth.levels", "Unsupported value"),
    Invalid("instrument-zero-lookback", "Instrument", {"spec.gapHealing.lookback": "0s"},
            "spec.gapHealing.lookback", "at least 1s"),
    Invalid("instrument-journal-retention-in-days", "Instrument", {"spec.journal.retention": "7d"},
            "spec.journal.retention", "should match"),
    Invalid("instrument-zero-trades-retention", "Instrument", {"spec.retention.trades": "0s"},
            "spec.retention.trades", "at least 1s"),
    # FeatureSet
    Invalid("featureset-no-features", "FeatureSet", {"spec.features": []},
            "spec.features", "at least 1 items"),
    Invalid("featureset-duplicate-feature-names", "FeatureSet", {"spec.features.1.name": "ret_1"},
            "spec.features", "names must be unique"),
    Invalid("featureset-feature-interval-undeclared", "FeatureSet", {"spec.features.2.interval": "4h"},
            "spec.features", "must be spec.baseInterval or one of spec.contextIntervals"),
    Invalid("featureset-context-repeats-base", "FeatureSet", {"spec.contextIntervals": ["1m", "1h"]},
            "spec.contextIntervals", "must not repeat spec.baseInterval"),
    Invalid("featureset-window-zero", "FeatureSet", {"spec.window": 0},
            "spec.window", "greater than or equal to 1"),
    Invalid("featureset-feature-name-case", "FeatureSet", {"spec.features.0.name": "LogReturn"},
            "spec.features[0].name", "should match"),
    Invalid("featureset-no-instruments", "FeatureSet", {"spec.instrumentRefs": []},
            "spec.instrumentRefs", "at least 1 items"),
    # the enum is the registry's names; the Python model stays lenient so that an object stored under
    # an older CRD still parses and the operator can say Stalled/UnknownFeature about it
    Invalid("featureset-unknown-transform", "FeatureSet", {"spec.features.0.transform": "ema_ratio"},
            "spec.features[0].transform", "Unsupported value", pydantic=False),
    # parameters are typed from the registry's declarations; the Python model stays lenient (as above)
    # and the registry says the same through Stalled/InvalidFeatureParameter
    Invalid("featureset-integer-param-as-string", "FeatureSet", {"spec.features.1.params": {"n": "14"}},
            "spec.features[1].params.n", "must be of type integer", pydantic=False),
    Invalid("featureset-decimal-param-as-number", "FeatureSet", {"spec.features.2.params": {"k": 2.5}},
            "spec.features[2].params.k", "must be of type string", pydantic=False),
    Invalid("featureset-decimal-param-exponent", "FeatureSet", {"spec.features.2.params": {"k": "2e0"}},
            "spec.features[2].params.k", "should match", pydantic=False),
    Invalid("featureset-param-of-another-transform", "FeatureSet", {"spec.features.1.params": {"k": "2"}},
            "spec.features[1].params.k",
            "spec.features[].params.k is a parameter of bollinger.percent_b, bollinger.width only",
            pydantic=False),
    Invalid("featureset-param-beyond-every-range", "FeatureSet", {"spec.features.1.params": {"n": 100000}},
            "spec.features[1].params.n", "less than or equal to 10000", pydantic=False),
    Invalid("featureset-snapshot-range-too-long", "FeatureSet", {"spec.snapshot.range": "9000h"},
            "spec.snapshot.range", "between 1h and 8760h"),
    Invalid("featureset-snapshot-schedule-too-often", "FeatureSet", {"spec.snapshot.schedule": "1m"},
            "spec.snapshot.schedule", "between 5m and 8760h"),
    Invalid("featureset-snapshot-unknown-mode", "FeatureSet", {"spec.snapshot.mode": "lenient"},
            "spec.snapshot.mode", "Unsupported value"),
    # Model
    Invalid("model-unknown-algorithm", "Model", {"spec.algorithm.name": "XGB"},
            "spec.algorithm.name", "Unsupported value"),
    Invalid("model-min-folds-exceed-folds", "Model", {"spec.promotionGates.minFolds": 6},
            "spec.promotionGates.minFolds", "must not exceed spec.walkForward.folds"),
    Invalid("model-psi-thresholds-inverted", "Model", {"spec.retraining.drift.psiWatch": 0.3},
            "spec.retraining.drift.psiWatch", "must be below spec.retraining.drift.psiAct"),
    Invalid("model-drift-persistence-exceeds-windows", "Model", {"spec.retraining.drift.persistence": 4},
            "spec.retraining.drift.persistence", "must not exceed spec.retraining.drift.of"),
    Invalid("model-psr-above-one", "Model", {"spec.promotionGates.minPsr": 1.5},
            "spec.promotionGates.minPsr", "less than or equal to 1"),
    Invalid("model-schedule-not-cron", "Model", {"spec.retraining.schedule": "every day"},
            "spec.retraining.schedule", "should match"),
    Invalid("model-gamma-as-string", "Model", {"spec.algorithm.hyperparameters.gamma": "0.99"},
            "spec.algorithm.hyperparameters.gamma", "must be of type number"),
    Invalid("model-n-steps-as-string", "Model", {"spec.algorithm.hyperparameters.n_steps": "2048"},
            "spec.algorithm.hyperparameters.n_steps", "must be of type integer"),
    Invalid("model-use-sde-as-string", "Model", {"spec.algorithm.hyperparameters.use_sde": "true"},
            "spec.algorithm.hyperparameters.use_sde", "must be of type boolean"),
    Invalid("model-gamma-above-one", "Model", {"spec.algorithm.hyperparameters.gamma": 1.5},
            "spec.algorithm.hyperparameters.gamma", "less than or equal to 1"),
    Invalid("model-ent-coef-number-as-string", "Model", {"spec.algorithm.hyperparameters.ent_coef": "0.01"},
            "spec.algorithm.hyperparameters.ent_coef", "should match"),
    Invalid("model-missing-feature-set", "Model", {"spec.featureSetRef": DELETE},
            "spec.featureSetRef", "Required value"),
    # ModelVersion
    Invalid("modelversion-digest-not-sha256", "ModelVersion", {"spec.artifact.digest": "md5:abc"},
            "spec.artifact.digest", "should match"),
    Invalid("modelversion-missing-lineage", "ModelVersion", {"spec.lineage": DELETE},
            "spec.lineage", "Required value"),
    # Rollout
    Invalid("rollout-step-with-two-kinds", "Rollout", {"spec.steps.3": {"setWeight": 5, "pause": {}}},
            "spec.steps[3]", "exactly one of shadow, analysis, setWeight, pause"),
    Invalid("rollout-empty-step", "Rollout", {"spec.steps.3": {}},
            "spec.steps[3]", "exactly one of shadow, analysis, setWeight, pause"),
    Invalid("rollout-weight-above-100", "Rollout", {"spec.steps.6": {"setWeight": 150}},
            "spec.steps[6].setWeight", "less than or equal to 100"),
    Invalid("rollout-negative-weight", "Rollout", {"spec.steps.2": {"setWeight": -5}},
            "spec.steps[2].setWeight", "greater than or equal to 0"),
    Invalid("rollout-weights-decrease", "Rollout", {"spec.steps.5": {"setWeight": 3}},
            "spec.steps", "setWeight values must be non-decreasing"),
    Invalid("rollout-shadow-after-weight", "Rollout", {"spec.steps.4": {"shadow": {"duration": "1h"}}},
            "spec.steps", "shadow steps must all come before the first setWeight step"),
    Invalid("rollout-no-steps", "Rollout", {"spec.steps": []},
            "spec.steps", "at least 1 items"),
    Invalid("rollout-zero-budget", "Rollout", {"spec.capital.budget": "0"},
            "spec.capital.budget", "spec.capital.budget must be positive"),
    Invalid("rollout-budget-as-number", "Rollout", {"spec.capital.budget": 10000},
            "spec.capital.budget", "must be of type string"),
    Invalid("rollout-pause-duration-syntax", "Rollout",
            {"spec.steps.3": {"pause": {"duration": "30 minutes"}}},
            "spec.steps[3].pause.duration", "should match"),
    # RiskPolicy
    Invalid("riskpolicy-order-exceeds-instrument", "RiskPolicy", {"spec.limits.perOrderNotional": "6000"},
            "spec.limits.perOrderNotional", "must not exceed spec.limits.perInstrumentNotional"),
    Invalid("riskpolicy-instrument-exceeds-gross", "RiskPolicy",
            {"spec.limits.perInstrumentNotional": "10000.01"},
            "spec.limits.perInstrumentNotional", "must not exceed spec.limits.portfolioGrossNotional"),
    Invalid("riskpolicy-net-exceeds-gross", "RiskPolicy", {"spec.limits.portfolioNetNotional": "20000"},
            "spec.limits.portfolioNetNotional", "must not exceed spec.limits.portfolioGrossNotional"),
    Invalid("riskpolicy-zero-order-limit", "RiskPolicy", {"spec.limits.perOrderNotional": "0"},
            "spec.limits.perOrderNotional", "must be positive"),
    Invalid("riskpolicy-negative-limit", "RiskPolicy", {"spec.limits.perOrderNotional": "-5"},
            "spec.limits.perOrderNotional", "should match"),
    Invalid("riskpolicy-exponent-limit", "RiskPolicy", {"spec.limits.portfolioGrossNotional": "1e5"},
            "spec.limits.portfolioGrossNotional", "should match"),
    Invalid("riskpolicy-limit-as-float", "RiskPolicy", {"spec.limits.perOrderNotional": 1000.5},
            "spec.limits.perOrderNotional", "must be of type string"),
    Invalid("riskpolicy-group-exceeds-gross", "RiskPolicy",
            {"spec.limits.perExposureGroupNotional": {"gold": "20000"}},
            "spec.limits.perExposureGroupNotional", "must be positive and not exceed portfolioGrossNotional"),
    Invalid("riskpolicy-group-name", "RiskPolicy", {"spec.limits.perExposureGroupNotional": {"Gold!": "100"}},
            "spec.limits.perExposureGroupNotional", "keys must match"),
    Invalid("riskpolicy-leverage-above-venue-max", "RiskPolicy", {"spec.limits.maxLeverage": 200},
            "spec.limits.maxLeverage", "less than or equal to 125"),
    Invalid("riskpolicy-unknown-breaker-action", "RiskPolicy", {"spec.breakers.dailyLoss.action": "PANIC"},
            "spec.breakers.dailyLoss.action", "Unsupported value"),
    Invalid("riskpolicy-zero-daily-loss", "RiskPolicy", {"spec.breakers.dailyLoss.limit": "0"},
            "spec.breakers.dailyLoss.limit", "must be positive"),
    Invalid("riskpolicy-missing-limits", "RiskPolicy", {"spec.limits": DELETE},
            "spec.limits", "Required value"),
]
# fmt: on


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_invalid_spec_is_rejected_by_the_api_server_naming_the_field(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path, case: Invalid
) -> None:
    result = create(crds_installed, namespace, tmp_path, case.object())
    assert result.returncode != 0, f"{case.id} was accepted"
    error = result.stderr
    assert case.field in error, error
    assert case.message in error, error
    missing = crds_installed.kubectl("get", "-n", namespace, resource(case.kind), "-o", "name")
    assert missing.stdout.strip() == ""


def test_enough_distinct_invalid_specs() -> None:
    assert len({c.id for c in INVALID}) == len(INVALID) >= 25
    assert {c.kind for c in INVALID} == set(EXAMPLES)


def test_secret_values_never_reach_storage_even_without_strict_validation(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    obj = example("Venue")
    obj["spec"]["credentials"]["apiKey"] = "AKIA-not-allowed"
    result = create(crds_installed, namespace, tmp_path, obj, "--validate=false")
    assert result.returncode == 0, result.stderr
    stored = get_object(crds_installed, namespace, "Venue", obj["metadata"]["name"])
    assert "AKIA-not-allowed" not in json.dumps(stored)
    assert stored["spec"]["credentials"] == example("Venue")["spec"]["credentials"]
