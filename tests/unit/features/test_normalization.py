"""Normalisation: fitted on training rows only, bit-identical batch and live, exact storage, fail closed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tradeplane.runtime.features.compat import ContractMismatch, FeatureBatch, FeatureVector
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.normalization import FittedNormalization, fit_for_contract, fit_normalization
from tradeplane.runtime.features.standard_set import STANDARD_SET
from tradeplane.runtime.features.synthetic import synthetic_inputs

pytestmark = pytest.mark.unit

METHODS = ("none", "zscore", "robust", "minmax")
CONTRACT = FeatureContract.build(STANDARD_SET, base_interval="1m", context_intervals=("1h",), clip="4")
MATRIX = CONTRACT.plan().batch(synthetic_inputs(900, seed=5))
TRAIN = slice(0, 600)


def fit(
    matrix: np.ndarray, method: str = "zscore", clip: str | None = None, **kwargs: object
) -> FittedNormalization:
    options: dict[str, object] = {"rows": TRAIN, "fingerprint": CONTRACT.fingerprint, **kwargs}
    return fit_normalization(matrix, CONTRACT.column_names, method, clip, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", METHODS)
def test_the_test_range_does_not_leak_into_the_fit(method: str) -> None:
    """Changing every row outside the training range leaves the fit bit-identical; fitting on all rows
    (the leak) gives different parameters, so the comparison can fail."""
    shifted = MATRIX.copy()
    shifted[600:] = shifted[600:] * 3.0 + 1.0
    fitted = fit(MATRIX, method)
    assert fit(shifted, method) == fitted
    if method != "none":
        assert fit(shifted, method, rows=slice(None)).center != fitted.center


def test_a_boolean_mask_selects_the_same_rows_as_a_slice() -> None:
    mask = np.zeros(len(MATRIX), dtype=bool)
    mask[TRAIN] = True
    assert fit(MATRIX, rows=mask) == fit(MATRIX)


def test_warmup_nan_rows_are_ignored_per_column() -> None:
    fitted = fit(MATRIX)
    rsi = CONTRACT.column_names.index("rsi_14")
    warm = MATRIX[CONTRACT.columns[rsi].warmup : 600, rsi]
    center = math.fsum(warm.tolist()) / len(warm)  # correctly rounded mean and population std
    scale = math.sqrt(math.fsum((value - center) * (value - center) for value in warm.tolist()) / len(warm))
    assert fitted.center[rsi] == center and fitted.scale[rsi] == scale
    assert fitted.fitted_rows == 600


@pytest.mark.parametrize(
    ("method", "center", "scale"),
    [("zscore", 2.5, math.sqrt(1.25)), ("robust", 2.5, 1.5), ("minmax", 1.0, 3.0), ("none", 0.0, 1.0)],
)
def test_each_method_on_hand_worked_values(method: str, center: float, scale: float) -> None:
    matrix = np.array([[math.nan], [1.0], [2.0], [3.0], [4.0]])
    fitted = fit_normalization(
        matrix, ["x"], method, None, rows=slice(None), fingerprint=CONTRACT.fingerprint
    )
    assert (fitted.center, fitted.scale) == ((center,), (scale,))


@pytest.mark.parametrize("method", ["zscore", "robust", "minmax"])
def test_a_constant_column_gets_scale_one_and_a_note(method: str) -> None:
    matrix = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 4.0]])
    fitted = fit_normalization(
        matrix, ["flat", "x"], method, None, rows=slice(None), fingerprint="sha256:" + "0" * 64
    )
    assert fitted.scale[0] == 1.0 and fitted.center[0] == 0.1
    assert fitted.notes == ("flat: constant over the training rows, scale 1",)
    assert np.array_equal(fitted.apply(matrix, fingerprint=fitted.fingerprint)[:, 0], np.zeros(3))


def test_a_robust_fit_with_zero_spread_keeps_the_median_as_centre() -> None:
    """Most rows equal (a funding rate that rarely moves): the interquartile range is zero but the column
    is not constant, so the centre stays the median, not whichever value happens to come first."""
    column = np.array([[0.003], [0.0001], [0.0001], [0.0001], [0.0001], [0.0001], [-0.002]])
    fitted = fit_normalization(
        column, ["funding"], "robust", None, rows=slice(None), fingerprint="sha256:" + "0" * 64
    )
    assert fitted.center == (0.0001,) and fitted.scale == (1.0,)
    assert fitted.notes == ("funding: zero spread over the training rows, scale 1",)


def test_a_column_without_training_values_cannot_be_fitted() -> None:
    with pytest.raises(ValueError, match="no finite training values") as caught:
        fit(MATRIX, rows=slice(0, 130))
    assert "['ema_dist_20', 'rsi_14', 'atr_14', 'macd', 'macd_signal', 'macd_hist']" in str(caught.value)
    infinite = MATRIX.copy()
    infinite[300, 0] = math.inf
    with pytest.raises(ValueError, match=r"cannot fit columns \['ret_1'\]"):
        fit(infinite)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        fit(MATRIX, "scale")
    with pytest.raises(ValueError, match="boolean mask of length 900"):
        fit(MATRIX, rows=np.ones(10, dtype=bool))
    with pytest.raises(ValueError, match=r"rows x 27 features"):
        fit(MATRIX[:, :5])


def test_clip_bounds_the_normalised_values_and_nan_stays_nan() -> None:
    fitted = fit_for_contract(CONTRACT, MATRIX, rows=TRAIN)
    assert (fitted.method, fitted.clip) == ("zscore", "4")
    out = fitted.apply(MATRIX, fingerprint=CONTRACT.fingerprint)
    assert np.nanmax(np.abs(out)) == 4.0
    assert np.array_equal(np.isnan(out), np.isnan(MATRIX))
    unclipped = fit(MATRIX).apply(MATRIX, fingerprint=CONTRACT.fingerprint)
    assert np.nanmax(np.abs(unclipped)) > 4.0


@pytest.mark.parametrize("method", METHODS)
def test_live_rows_are_bit_identical_to_the_batch(method: str) -> None:
    fitted = fit(MATRIX, method, clip="3")
    batch = fitted.apply(MATRIX, fingerprint=CONTRACT.fingerprint)
    for row in range(0, len(MATRIX), 7):
        live = fitted.apply(MATRIX[row].copy(), fingerprint=CONTRACT.fingerprint)
        assert live.tobytes() == batch[row].tobytes()


@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(2, 40), st.integers(1, 4)),
        elements=st.floats(-1e6, 1e6, allow_nan=False) | st.just(math.nan),
    ),
    st.sampled_from(METHODS),
)
def test_storage_is_exact_and_live_equals_batch_for_any_matrix(matrix: np.ndarray, method: str) -> None:
    columns = [f"c{i}" for i in range(matrix.shape[1])]
    matrix[0] = 1.0  # every column has at least one finite training value
    fitted = fit_normalization(
        matrix, columns, method, "2.5", rows=slice(None), fingerprint="sha256:" + "a" * 64
    )
    again = FittedNormalization.from_json(fitted.to_json())
    assert again == fitted and again.to_json() == fitted.to_json()
    batch = again.apply(matrix, fingerprint=fitted.fingerprint)
    assert all(
        again.apply(row, fingerprint=fitted.fingerprint).tobytes() == batch[i].tobytes()
        for i, row in enumerate(matrix)
    )


def test_json_stores_floats_as_hex() -> None:
    fitted = fit(MATRIX)
    text = fitted.to_json()
    assert fitted.center[7].hex() in text and str(fitted.center[7]) not in text
    with pytest.raises(ValueError, match="format 2"):
        FittedNormalization.from_json(text.replace('"format":1', '"format":2'))


def test_refuses_features_of_another_contract() -> None:
    fitted = fit_for_contract(CONTRACT, MATRIX, rows=TRAIN)
    other = FeatureContract.build(STANDARD_SET, base_interval="1m", context_intervals=("1h",), clip="3")
    with pytest.raises(ContractMismatch, match="fitted for another feature contract"):
        fitted.apply(MATRIX, fingerprint=other.fingerprint)
    with pytest.raises(ContractMismatch, match="fitted for another feature contract"):
        fitted.normalize(FeatureBatch.of(other, MATRIX))
    with pytest.raises(ContractMismatch, match="columns differ"):
        fitted.normalize(FeatureVector("x", CONTRACT.column_names[::-1], MATRIX[-1]))
    assert np.array_equal(
        fitted.normalize(FeatureVector.of(CONTRACT, MATRIX[-1])),
        fitted.apply(MATRIX[-1], fingerprint=CONTRACT.fingerprint),
    )
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 27\) features"):
        fitted.apply(MATRIX[:, :3], fingerprint=CONTRACT.fingerprint)


def test_a_corrupt_stored_fit_is_refused_when_loaded() -> None:
    text = fit(MATRIX).to_json().replace('"scale":["', '"scale":["-', 1)
    with pytest.raises(ValueError, match="scales positive"):
        FittedNormalization.from_json(text)


def test_a_fit_with_mismatched_lengths_is_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        FittedNormalization("sha256:" + "0" * 64, ("a", "b"), "zscore", None, (0.0,), (1.0, 1.0), 3)
