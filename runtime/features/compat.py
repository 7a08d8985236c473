"""The schema gate between whoever produced features and whoever consumes them.

Why it exists: a model fed columns in another order, with another RSI period or from another
interval trades on garbage without any error; design principle 3 says stop instead. The trainer,
the backtest and the executor each hold the contract they were built for and call
:func:`require_compatible` (whole contracts) or ``FeatureVector/FeatureBatch.check`` (values crossing
a boundary). Equal fingerprints pass at once; otherwise :class:`ContractMismatch` names every
difference (missing, unexpected, reordered and changed columns, and contract-level fields), because
"fingerprint differs" alone sends an operator diffing JSON by hand.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from tradeplane.runtime.features.contract import ContractColumn, FeatureContract
from tradeplane.runtime.features.inputs import FloatArray


class ContractMismatch(ValueError):
    """Features built for one contract offered to a consumer of another; the message names the columns."""

    def __init__(
        self,
        expected: str,
        actual: str,
        *,
        missing: tuple[str, ...] = (),
        unexpected: tuple[str, ...] = (),
        reordered: tuple[str, ...] = (),
        changed: tuple[str, ...] = (),
        other: tuple[str, ...] = (),
    ) -> None:
        self.expected, self.actual = expected, actual
        self.missing, self.unexpected, self.reordered = missing, unexpected, reordered
        self.changed, self.other = changed, other
        parts = [
            f"{label}: {', '.join(items)}"
            for label, items in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("reordered", reordered),
                ("changed", changed),
                ("contract", other),
            )
            if items
        ]
        detail = "; ".join(parts) or "no column difference visible (fingerprints differ)"
        super().__init__(f"feature contract mismatch: expected {expected}, got {actual}: {detail}")


def _moved(expected: list[str], actual: list[str]) -> tuple[str, ...]:
    """Names outside the longest common ordering, with their positions: the fewest columns to move."""
    matcher = difflib.SequenceMatcher(a=expected, b=actual, autojunk=False)
    kept = {expected[block.a + i] for block in matcher.get_matching_blocks() for i in range(block.size)}
    return tuple(
        f"{name} (position {expected.index(name)} -> {actual.index(name)})"
        for name in expected
        if name not in kept
    )


def _column_change(old: ContractColumn, new: ContractColumn) -> str | None:
    if (old.transform, old.interval, old.params, old.dtype) == (
        new.transform,
        new.interval,
        new.params,
        new.dtype,
    ):
        return None
    return f"{old.name} ({old.describe()} -> {new.describe()})"


def _diff_columns(
    expected: list[str], actual: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    missing = tuple(name for name in expected if name not in set(actual))
    unexpected = tuple(name for name in actual if name not in set(expected))
    common = set(expected) & set(actual)
    reordered = _moved([n for n in expected if n in common], [n for n in actual if n in common])
    return missing, unexpected, reordered


def _label(contract: FeatureContract) -> str:
    return contract.fingerprint[:19]


def require_compatible(expected: FeatureContract, actual: FeatureContract) -> None:
    """Pass when the fingerprints are equal; otherwise raise :class:`ContractMismatch` naming every
    difference. Fail-closed: a difference only in warm-up or inputs (a registry change) still fails."""
    if expected.fingerprint == actual.fingerprint:
        return
    missing, unexpected, reordered = _diff_columns(list(expected.column_names), list(actual.column_names))
    by_name = {column.name: column for column in actual.columns}
    changed = tuple(
        change
        for column in expected.columns
        if column.name in by_name and (change := _column_change(column, by_name[column.name])) is not None
    )
    other = tuple(
        f"{label} {old!r} -> {new!r}"
        for label, old, new in (
            ("version", expected.version, actual.version),
            ("baseInterval", expected.base_interval, actual.base_interval),
            ("contextIntervals", list(expected.context_intervals), list(actual.context_intervals)),
            ("normalization.method", expected.normalization_method, actual.normalization_method),
            ("normalization.clip", expected.normalization_clip, actual.normalization_clip),
            ("window", expected.window, actual.window),
            ("warmup", expected.warmup, actual.warmup),
            ("inputs", list(expected.inputs), list(actual.inputs)),
        )
        if old != new
    )
    raise ContractMismatch(
        _label(expected),
        _label(actual),
        missing=missing,
        unexpected=unexpected,
        reordered=reordered,
        changed=changed,
        other=other,
    )


@dataclass(frozen=True)
class _Carrier:
    fingerprint: str
    columns: tuple[str, ...]
    values: FloatArray = field(repr=False)

    _ndim = 0

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        if values.dtype != np.float64 or values.ndim != self._ndim or values.shape[-1] != len(self.columns):
            raise ValueError(
                f"{type(self).__name__}: values must be float64 with {self._ndim} dimension(s) and "
                f"{len(self.columns)} columns, got {values.dtype} of shape {values.shape}"
            )
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "values", values)

    def check(self, expected: FeatureContract) -> None:
        """Raise :class:`ContractMismatch` unless these values were built for ``expected``."""
        if self.fingerprint == expected.fingerprint and self.columns == expected.column_names:
            return
        missing, unexpected, reordered = _diff_columns(list(expected.column_names), list(self.columns))
        same_columns = not (missing or unexpected or reordered)
        raise ContractMismatch(
            _label(expected),
            self.fingerprint[:19],
            missing=missing,
            unexpected=unexpected,
            reordered=reordered,
            other=("same column names, different parameters, intervals or normalisation",)
            if same_columns
            else (),
        )


@dataclass(frozen=True)
class FeatureVector(_Carrier):
    """One live row (1-D) as it crosses from the feature runner to the policy."""

    _ndim = 1

    @classmethod
    def of(cls, contract: FeatureContract, row: FloatArray) -> FeatureVector:
        return cls(contract.fingerprint, contract.column_names, row)


@dataclass(frozen=True)
class FeatureBatch(_Carrier):
    """Rows x columns (2-D) as a dataset or backtest hands them to a trainer or a policy."""

    _ndim = 2

    @classmethod
    def of(cls, contract: FeatureContract, matrix: FloatArray) -> FeatureBatch:
        return cls(contract.fingerprint, contract.column_names, matrix)
