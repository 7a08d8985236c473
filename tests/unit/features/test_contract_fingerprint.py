"""The feature contract: one canonical form and one fingerprint per set of computed columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tradeplane.crds.featureset import FeatureSet, FeatureSetSpec, FeatureSetStatus
from tradeplane.runtime.features.contract import FeatureContract, canonical_bytes, canonical_decimal
from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec
from tradeplane.runtime.features.registry import FeatureParamError, UnknownFeature
from tradeplane.runtime.features.standard_set import STANDARD_SET
from tradeplane.runtime.features.synthetic import synthetic_inputs

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
GOLDEN_SPEC = ROOT / "tests" / "golden" / "featureset.yaml"
SAMPLE = ROOT / "manifests" / "samples" / "featureset.yaml"
GOLDEN_FINGERPRINT = "sha256:050f9327f5619f8e2f6b22e082a9f7aed3521b15d111f3fd6e4e7a2c3287a08b"
"""Computed once, in another process, when the canonical form was written. A change here changes the
fingerprint of every stored model: it must be deliberate (bump CONTRACT_VERSION), never incidental."""
SAMPLE_FINGERPRINT = "sha256:454a4003aaf3bf6cb6aea647109f12546a05b8539e1ecad0d1d390e89017760e"


def load_spec(path: Path) -> FeatureSetSpec:
    return FeatureSet.model_validate(yaml.safe_load(path.read_text())).spec


def spec_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = load_spec(GOLDEN_SPEC).model_dump(mode="json", by_alias=True)
    document.update(changes)
    return document


def fingerprint_of(document: dict[str, Any]) -> str:
    return FeatureContract.from_spec(FeatureSetSpec.model_validate(document)).fingerprint


def test_golden_featureset_fingerprint_is_pinned() -> None:
    contract = FeatureContract.from_spec(load_spec(GOLDEN_SPEC))
    assert contract.fingerprint == GOLDEN_FINGERPRINT
    assert contract.canonical_json().startswith(b'{"baseInterval":"1m","columns":[{"dtype":"float64",')


def test_sample_manifest_fingerprint_is_pinned() -> None:
    """The FeatureSet users copy first. If this breaks after editing the sample on purpose, update the
    literal; if it breaks without such an edit, the canonical form changed (see GOLDEN_FINGERPRINT)."""
    contract = FeatureContract.from_spec(load_spec(SAMPLE))
    assert contract.fingerprint == SAMPLE_FINGERPRINT, contract.to_json()


def test_unknown_transform_and_bad_params_name_the_column() -> None:
    document = spec_document()
    document["features"][4]["transform"] = "ema_ratio"
    with pytest.raises(
        UnknownFeature, match=r"feature 'ema_dist_15m': unknown feature transform 'ema_ratio'"
    ):
        FeatureContract.from_spec(FeatureSetSpec.model_validate(document))
    document = spec_document()
    document["features"][0]["params"] = {"periods": 1}
    with pytest.raises(FeatureParamError, match=r"feature 'log_return': parameter 'periods' is not a param"):
        FeatureContract.from_spec(FeatureSetSpec.model_validate(document))


@given(data=st.data())
def test_fingerprint_ignores_dict_order_and_json_round_trips(data: st.DataObject) -> None:
    document = spec_document()
    for feature in document["features"]:
        items = data.draw(st.permutations(list(feature["params"].items())))
        feature["params"] = dict(items)
        keys = data.draw(st.permutations(list(feature)))
        feature.update({key: feature.pop(key) for key in keys})
    round_tripped = FeatureSetSpec.model_validate_json(json.dumps(document))
    assert FeatureContract.from_spec(round_tripped).fingerprint == GOLDEN_FINGERPRINT


def _edit(path: str, value: Any) -> dict[str, Any]:
    document = spec_document()
    target: Any = document
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(last) if last.isdigit() else last] = value
    return document


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("features.0.name", "log_ret"),
        ("features.1.params", {"n": 15}),
        ("features.2.params", {"n": 14, "normalize": 0}),
        ("features.3.params", {"k": "2.6"}),
        ("features.4.interval", "1h"),
        ("features.3.transform", "bollinger.percent_b"),
        ("normalization", {"method": "robust", "clip": 5.0}),
        ("normalization", {"method": "zscore", "clip": 4.0}),
        ("normalization", {"method": "zscore"}),
        ("window", 32),
        ("contextIntervals", ["15m", "1h", "4h"]),
    ],
)
def test_any_change_that_matters_changes_the_fingerprint(path: str, value: Any) -> None:
    assert fingerprint_of(_edit(path, value)) != GOLDEN_FINGERPRINT


def test_column_order_changes_the_fingerprint() -> None:
    document = spec_document()
    document["features"][0], document["features"][1] = document["features"][1], document["features"][0]
    assert fingerprint_of(document) != GOLDEN_FINGERPRINT


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("features.3.params", {"k": "2.50"}),
        ("features.3.params", {"k": " 2.5", "n": 20}),
        ("features.2.params", {"n": 14, "normalize": 1}),
        ("features.0.interval", "1m"),
        ("normalization", {"method": "zscore", "clip": 5}),
        ("instrumentRefs", [{"name": "paxg-usdt"}]),
        ("snapshotRetention", 9),
    ],
)
def test_same_numbers_written_differently_are_the_same_contract(path: str, value: Any) -> None:
    """Canonical decimals ("2.50" is "2.5"), explicit defaults, an explicit base interval and an integer
    clip compute the same columns, so they are the same contract; instruments and retention are not in it."""
    assert fingerprint_of(_edit(path, value)) == GOLDEN_FINGERPRINT


@pytest.mark.parametrize(
    ("value", "canonical"),
    [("2", "2"), ("2.0", "2"), ("2.500", "2.5"), ("0.10", "0.1"), ("20", "20"), ("1E+2", "100"), (5.0, "5"),
     (0.1, "0.1"), ("-0", "0"), (7, "7")],
)  # fmt: skip
def test_canonical_decimal(value: Any, canonical: str) -> None:
    assert canonical_decimal(value) == canonical


def test_canonical_decimal_refuses_non_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        canonical_decimal("NaN")


def test_canonical_json_is_sorted_compact_and_float_free() -> None:
    contract = FeatureContract.from_spec(load_spec(GOLDEN_SPEC))
    raw = contract.canonical_json()
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    assert json.loads(raw)["normalization"] == {"method": "zscore", "clip": "5"}
    assert json.loads(raw)["columns"][3]["params"] == {"k": "2.5", "n": 20}
    with pytest.raises(TypeError, match=r"float at \$.a\[1\]"):
        canonical_bytes({"a": [1, 2.0]})
    with pytest.raises(TypeError, match="non-string key 1"):
        canonical_bytes({"a": {1: "x"}})


def test_to_json_from_json_round_trips_exactly() -> None:
    contract = FeatureContract.build(STANDARD_SET, base_interval="1m", context_intervals=["1h"], clip="3.5")
    again = FeatureContract.from_json(contract.to_json())
    assert again == contract and again.fingerprint == contract.fingerprint
    assert again.to_json() == contract.to_json()
    with pytest.raises(ValueError, match="version 2"):
        FeatureContract.from_json(contract.to_json().replace('"version":1', '"version":2'))
    with pytest.raises(TypeError, match="float"):
        FeatureContract.from_json(contract.to_json().replace('"window":64', '"window":64.0'))


def test_resolved_columns_inputs_intervals_and_summary() -> None:
    contract = FeatureContract.build(
        STANDARD_SET, base_interval="1m", context_intervals=["1h", "15m"], method="robust"
    )
    assert contract.context_intervals == ("15m", "1h")
    assert contract.source_intervals == ("1m", "1h")
    assert contract.inputs == ("klines:1m", "klines:1h", "funding", "funding_schedule", "mark")
    rsi = contract.columns[contract.column_names.index("rsi_14")]
    assert (rsi.interval, rsi.params, rsi.dtype, rsi.describe()) == (
        "1m",
        (("n", 14),),
        "float64",
        "rsi@1m(n=14)",
    )
    assert contract.columns[-1].interval == "1h"
    assert contract.warmup == FeaturePlan(STANDARD_SET, base_interval="1m").warmup == 244
    assert [c.warmup for c in contract.columns] == list(
        FeaturePlan(STANDARD_SET, base_interval="1m").column_warmups
    )
    assert contract.summary() == {
        "fingerprint": contract.fingerprint,
        "columns": 27,
        "warmup_bars": 244,
        "contract": {"intervals": ["1m", "1h"], "normalization": "robust"},
    }
    status = FeatureSetStatus.model_validate(contract.summary())
    assert (status.fingerprint, status.columns, status.warmup_bars) == (contract.fingerprint, 27, 244)
    assert status.contract is not None and status.contract.intervals == ["1m", "1h"]
    bars_only = FeatureContract.build([FeatureSpec("r", "log_return")], base_interval="5m")
    assert bars_only.inputs == ("klines:5m",) and bars_only.normalization_clip is None


@pytest.mark.parametrize(
    ("features", "kwargs", "error", "words"),
    [
        ([FeatureSpec("x", "rsi", params={"n": 1})], {}, FeatureParamError, "feature 'x': parameter 'n'"),
        ([FeatureSpec("x", "nope")], {}, UnknownFeature, "feature 'x': unknown feature transform 'nope'"),
        ([FeatureSpec("x", "rsi", "1h")], {}, ValueError, "feature 'x': interval '1h' is neither"),
        ([FeatureSpec("x", "rsi")], {"method": "scale"}, ValueError, "method must be one of"),
        ([FeatureSpec("x", "funding.rate", "1h")], {"context_intervals": ["1h"]}, FeatureParamError, "'x'"),
    ],
)
def test_bad_contracts_are_refused_naming_the_column(
    features: list[FeatureSpec], kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        FeatureContract.build(features, base_interval="1m", **kwargs)
    assert words in str(caught.value)


def test_contract_plan_computes_what_the_spec_plan_computes() -> None:
    spec = load_spec(GOLDEN_SPEC)
    inputs = synthetic_inputs(400, seed=3)
    spec_plan = FeaturePlan.from_featureset(spec.model_copy(update={"features": spec.features[:4]}))
    contract = FeatureContract.build(spec_plan.specs, base_interval="1m")
    assert contract.plan().columns == spec_plan.columns
    assert np.array_equal(contract.plan().batch(inputs), spec_plan.batch(inputs), equal_nan=True)
