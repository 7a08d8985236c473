"""Normalisation fitted on the training rows only, stored with the model, applied identically everywhere.

Why this shape: fitting a z-score on the whole history lets the test range's mean and variance leak
into training, and refitting on live data moves the inputs under a trained policy. So a fit takes an
explicit ``rows`` selection (the training range) and nothing else influences it; the result is plain
data (per-column centre and scale, as ``float.hex`` in JSON so a stored fit reloads bit for bit) that
carries the fingerprint of the contract it was fitted for and refuses values of any other.

``apply`` is elementwise ``(x - centre) / scale`` then an optional clip: no reductions, so a 1-D live
row and the same row inside a 2-D batch give bit-identical results (IEEE subtraction and division are
correctly rounded whatever the array shape). NaN stays NaN (warm-up rows remain "not ready").

A fit is stored with the model and must come out the same on every machine, so its reductions fix
their own rounding: the z-score's mean and variance are correctly rounded sums
(:func:`~tradeplane.runtime.features.ordered.exact_sum`, independent of order, SIMD and BLAS, unlike
``numpy.mean``/``numpy.std``), and quantiles, minimum and maximum select stored values (quantiles
then interpolate elementwise), which involves no summation at all.

Methods: ``zscore`` (mean, population std), ``robust`` (median, interquartile range), ``minmax``
(training min -> 0, max -> 1), ``none`` (identity, still fingerprint-checked). A column that is constant
over the training rows gets scale 1 and a note instead of a division by zero (so does a ``robust`` column
whose interquartile range is zero, keeping its median as centre); a column with no finite training
value cannot be fitted and is an error naming it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from tradeplane.runtime.features.compat import ContractMismatch, FeatureBatch, FeatureVector
from tradeplane.runtime.features.contract import METHODS, FeatureContract, canonical_decimal
from tradeplane.runtime.features.inputs import FloatArray
from tradeplane.runtime.features.ordered import exact_sum

FORMAT = 1


@dataclass(frozen=True)
class FittedNormalization:
    """Per-column centre and scale; ``notes`` says which columns were constant over the training rows."""

    fingerprint: str
    columns: tuple[str, ...]
    method: str
    clip: str | None
    center: tuple[float, ...]
    scale: tuple[float, ...]
    fitted_rows: int
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not len(self.columns) == len(self.center) == len(self.scale):
            raise ValueError("columns, center and scale must have the same length")
        self._arrays()  # fail at construction, not at the first live bar

    def _arrays(self) -> tuple[FloatArray, FloatArray, float | None]:
        center = np.array(self.center, dtype=np.float64)
        scale = np.array(self.scale, dtype=np.float64)
        if not (np.isfinite(center).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("normalisation centre and scale must be finite, scales positive")
        return center, scale, None if self.clip is None else float(Decimal(self.clip))

    def apply(self, values: FloatArray, *, fingerprint: str) -> FloatArray:
        """Normalise a live row (1-D) or a batch (2-D) of features built for ``fingerprint``."""
        if fingerprint != self.fingerprint:
            raise ContractMismatch(
                self.fingerprint[:19],
                fingerprint[:19],
                other=("normalisation was fitted for another feature contract",),
            )
        array = np.asarray(values, dtype=np.float64)
        if array.ndim not in (1, 2) or array.shape[-1] != len(self.columns):
            raise ValueError(f"expected (..., {len(self.columns)}) features, got shape {array.shape}")
        center, scale, clip = self._arrays()
        out: FloatArray = (array - center) / scale
        if clip is not None:
            np.clip(out, -clip, clip, out=out)
        return out

    def normalize(self, carrier: FeatureVector | FeatureBatch) -> FloatArray:
        """Normalise values at a boundary: columns and fingerprint are both checked first."""
        if carrier.columns != self.columns:
            raise ContractMismatch(
                self.fingerprint[:19], carrier.fingerprint[:19], other=("columns differ from the fit's",)
            )
        return self.apply(carrier.values, fingerprint=carrier.fingerprint)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "fingerprint": self.fingerprint,
                "columns": list(self.columns),
                "method": self.method,
                "clip": self.clip,
                "center": [value.hex() for value in self.center],
                "scale": [value.hex() for value in self.scale],
                "fittedRows": self.fitted_rows,
                "notes": list(self.notes),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> FittedNormalization:
        document: dict[str, Any] = json.loads(text)
        if document.get("format") != FORMAT:
            raise ValueError(f"normalisation format {document.get('format')!r} is not supported")
        return cls(
            fingerprint=document["fingerprint"],
            columns=tuple(document["columns"]),
            method=document["method"],
            clip=document["clip"],
            center=tuple(float.fromhex(value) for value in document["center"]),
            scale=tuple(float.fromhex(value) for value in document["scale"]),
            fitted_rows=document["fittedRows"],
            notes=tuple(document["notes"]),
        )


def _center_scale(values: FloatArray, method: str) -> tuple[float, float]:
    if method == "zscore":
        center = exact_sum(values) / len(values)
        deviation = values - center
        return center, math.sqrt(exact_sum(deviation * deviation) / len(values))
    if method == "robust":
        low, median, high = np.quantile(values, [0.25, 0.5, 0.75])
        return float(median), float(high - low)
    if method == "minmax":
        low, high = float(values.min()), float(values.max())
        return low, high - low
    return 0.0, 1.0


def fit_normalization(
    matrix: FloatArray,
    columns: Sequence[str],
    method: str,
    clip: Decimal | float | str | None,
    *,
    rows: slice | np.ndarray,
    fingerprint: str,
) -> FittedNormalization:
    """Fit on ``matrix[rows]`` only (the training range); each column ignores its own NaN (warm-up) rows."""
    if method not in METHODS:
        raise ValueError(f"normalisation method must be one of {', '.join(METHODS)}, got {method!r}")
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(columns):
        raise ValueError(f"expected rows x {len(columns)} features, got shape {matrix.shape}")
    if isinstance(rows, np.ndarray) and (rows.dtype != np.bool_ or rows.shape != (len(matrix),)):
        raise ValueError(f"rows must be a slice or a boolean mask of length {len(matrix)}")
    training = matrix[rows]
    centers: list[float] = []
    scales: list[float] = []
    notes: list[str] = []
    unfit = [
        name
        for index, name in enumerate(columns)
        if np.isnan(training[:, index]).all() or np.isinf(training[:, index]).any()
    ]
    if unfit:
        raise ValueError(f"cannot fit columns {unfit}: no finite training values (or an infinite one)")
    for index, name in enumerate(columns):
        values = training[:, index]
        values = values[~np.isnan(values)]
        center, scale = _center_scale(values, method)
        if method != "none" and values.min() == values.max():
            notes.append(f"{name}: constant over the training rows, scale 1")
            center, scale = float(values[0]), 1.0
        elif method != "none" and not scale > 0:  # robust: a zero interquartile range, not a constant
            notes.append(f"{name}: zero spread over the training rows, scale 1")
            scale = 1.0
        centers.append(center)
        scales.append(scale)
    return FittedNormalization(
        fingerprint=fingerprint,
        columns=tuple(columns),
        method=method,
        clip=None if clip is None else canonical_decimal(clip),
        center=tuple(centers),
        scale=tuple(scales),
        fitted_rows=len(training),
        notes=tuple(notes),
    )


def fit_for_contract(
    contract: FeatureContract, matrix: FloatArray, *, rows: slice | np.ndarray
) -> FittedNormalization:
    """The fit the contract asks for (its method and clip), on the training ``rows`` of ``matrix``."""
    return fit_normalization(
        matrix,
        contract.column_names,
        contract.normalization_method,
        contract.normalization_clip,
        rows=rows,
        fingerprint=contract.fingerprint,
    )
