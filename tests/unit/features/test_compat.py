"""The schema gate: equal contracts pass, every kind of difference is refused and named."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tradeplane.runtime.features.compat import (
    ContractMismatch,
    FeatureBatch,
    FeatureVector,
    require_compatible,
)
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.plan import FeatureSpec

pytestmark = pytest.mark.unit

BASE = (
    FeatureSpec("ret_1", "log_return"),
    FeatureSpec("rsi_14", "rsi", params={"n": 14}),
    FeatureSpec("bb_width", "bollinger.width", params={"k": "2"}),
    FeatureSpec("ctx_1h_range", "bar.range", interval="1h"),
)


def contract(specs: tuple[FeatureSpec, ...] = BASE, **kwargs: Any) -> FeatureContract:
    options: dict[str, Any] = {"base_interval": "1m", "context_intervals": ("15m", "1h"), **kwargs}
    return FeatureContract.build(specs, **options)


def mismatch(expected: FeatureContract, actual: FeatureContract) -> ContractMismatch:
    with pytest.raises(ContractMismatch) as caught:
        require_compatible(expected, actual)
    return caught.value


def test_equal_contracts_pass_even_when_written_differently() -> None:
    written_differently = (
        FeatureSpec("ret_1", "log_return", "1m", {"n": 1}),
        FeatureSpec("rsi_14", "rsi"),
        FeatureSpec("bb_width", "bollinger.width", params={"k": "2.00", "n": 20}),
        FeatureSpec("ctx_1h_range", "bar.range", interval="1h"),
    )
    require_compatible(contract(), contract(written_differently))


def test_missing_and_unexpected_columns_are_named() -> None:
    error = mismatch(contract(), contract((*BASE[:2], FeatureSpec("vol", "volume_zscore"), BASE[3])))
    assert error.missing == ("bb_width",) and error.unexpected == ("vol",)
    assert error.reordered == () and error.changed == ()
    assert "missing: bb_width" in str(error) and "unexpected: vol" in str(error)


def test_a_moved_column_is_named_with_its_positions() -> None:
    error = mismatch(contract(), contract((BASE[1], BASE[2], BASE[3], BASE[0])))
    assert error.reordered == ("ret_1 (position 0 -> 3)",)
    assert (error.missing, error.unexpected, error.changed) == ((), (), ())
    assert "reordered: ret_1 (position 0 -> 3)" in str(error)


@pytest.mark.parametrize(
    ("index", "replacement", "words"),
    [
        (1, FeatureSpec("rsi_14", "rsi", params={"n": 15}), "rsi_14 (rsi@1m(n=14) -> rsi@1m(n=15))"),
        (2, FeatureSpec("bb_width", "bollinger.width", params={"k": "2.5"}),
         "(k=2, n=20) -> bollinger.width@1m(k=2.5, n=20)"),
        (3, FeatureSpec("ctx_1h_range", "bar.range", interval="15m"),
         "ctx_1h_range (bar.range@1h() -> bar.range@15m())"),
        (0, FeatureSpec("ret_1", "bar.return"), "ret_1 (log_return@1m(n=1) -> bar.return@1m())"),
    ],
)  # fmt: skip
def test_a_changed_column_names_old_and_new_definition(
    index: int, replacement: FeatureSpec, words: str
) -> None:
    specs = list(BASE)
    specs[index] = replacement
    error = mismatch(contract(), contract(tuple(specs)))
    assert len(error.changed) == 1 and words in error.changed[0]
    assert f"changed: {error.changed[0]}" in str(error)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"method": "robust"}, "normalization.method 'zscore' -> 'robust'"),
        ({"clip": "3"}, "normalization.clip None -> '3'"),
        ({"window": 32}, "window 64 -> 32"),
        ({"context_intervals": ("1h",)}, "contextIntervals ['15m', '1h'] -> ['1h']"),
    ],
)
def test_contract_level_differences_are_named(kwargs: dict[str, Any], words: str) -> None:
    error = mismatch(contract(), contract(**kwargs))
    assert words in str(error) and error.changed == () and error.missing == ()


def test_fingerprints_in_the_message_identify_both_sides() -> None:
    expected, actual = contract(), contract(window=8)
    message = str(mismatch(expected, actual))
    assert expected.fingerprint[:19] in message and actual.fingerprint[:19] in message


def test_feature_vector_and_batch_pass_for_their_own_contract() -> None:
    expected = contract()
    FeatureVector.of(expected, np.zeros(4)).check(expected)
    FeatureBatch.of(expected, np.zeros((3, 4))).check(expected)


def test_carriers_with_other_columns_or_fingerprint_are_refused() -> None:
    expected, other = contract(), contract((BASE[1], BASE[0], BASE[2], BASE[3]))
    with pytest.raises(ContractMismatch, match=r"reordered: rsi_14 \(position 1 -> 0\)"):
        FeatureVector.of(other, np.zeros(4)).check(expected)
    with pytest.raises(ContractMismatch, match="same column names, different parameters"):
        FeatureBatch.of(contract(window=8), np.zeros((2, 4))).check(expected)
    with pytest.raises(ContractMismatch, match="missing: ctx_1h_range"):
        FeatureBatch(expected.fingerprint, expected.column_names[:3], np.zeros((2, 3))).check(expected)


@pytest.mark.parametrize(
    ("carrier", "values"),
    [
        (FeatureVector, np.zeros((1, 4))),
        (FeatureVector, np.zeros(3)),
        (FeatureBatch, np.zeros(4)),
        (FeatureBatch, np.zeros((2, 4), dtype=np.float32)),
    ],
)
def test_carriers_refuse_values_of_the_wrong_shape_or_dtype(
    carrier: type[FeatureVector] | type[FeatureBatch], values: np.ndarray
) -> None:
    expected = contract()
    with pytest.raises(ValueError, match="values must be float64"):
        carrier(expected.fingerprint, expected.column_names, values)
