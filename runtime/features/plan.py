"""A FeatureSet's ordered columns as one plan: a float64 matrix in batch, the same rows one bar at a time.

Why this shape: training, backtest and live all hold the same :class:`FeaturePlan`, built from the
contract's ordered ``(name, transform, interval, params)``; the batch matrix and the live row vector
come from the same kernels, masked by the same per-column warm-up (rows before it are NaN on both
paths, whatever the formula could already say). Context columns are advanced only by context bars the
caller says have *closed*, and the live path refuses any observation stamped after the bar it is
computing, so look-ahead is an error at the boundary rather than a property of careful callers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tradeplane.runtime.features.inputs import (
    NAN_BAR,
    BadRow,
    Bar,
    FloatArray,
    FundingSchedule,
    Inputs,
    Point,
    SourceQuarantine,
    bar_problem,
    point_problem,
)
from tradeplane.runtime.features.kernels import Aligned, ContextStep, Kernel, Known, Memo, Step
from tradeplane.runtime.features.registry import FeatureParamError, Registry, Stream
from tradeplane.runtime.features.standard import STANDARD
from tradeplane.runtime.intervals import longest_ms


class LookAheadError(ValueError):
    """The live path was handed something stamped after the close of the bar being computed."""


@dataclass(frozen=True)
class FeatureSpec:
    """One contract column, as in ``FeatureSet.spec.features``."""

    name: str
    transform: str
    interval: str | None = None
    params: Mapping[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    name: str
    transform: str
    interval: str | None
    kernel: Kernel
    inputs: frozenset[Stream]


class FeaturePlan:
    """Ordered columns with their kernels and warm-ups (in base bars)."""

    def __init__(
        self, specs: Sequence[FeatureSpec], *, base_interval: str, registry: Registry = STANDARD
    ) -> None:
        self.base_interval = base_interval
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be unique, got {names}")
        self.specs = tuple(specs)
        self._columns = tuple(self._column(spec, registry) for spec in specs)

    def _column(self, spec: FeatureSpec, registry: Registry) -> Column:
        definition = registry.get(spec.transform)
        kernel = definition.kernel(spec.params, name=spec.name)
        interval = None if spec.interval in (None, self.base_interval) else spec.interval
        if interval is not None:
            if not definition.bars_only:
                raise FeatureParamError(
                    spec.name, "interval", f"must be the base interval: {spec.transform} does not read bars"
                )
            ratio = -(-longest_ms(interval) // longest_ms(self.base_interval))
            kernel = Aligned(kernel, interval, ratio)
        return Column(spec.name, spec.transform, interval, kernel, definition.inputs)

    @classmethod
    def from_featureset(cls, spec: object, registry: Registry = STANDARD) -> FeaturePlan:
        """From a ``FeatureSetSpec`` (``tradeplane.crds.featureset``)."""
        features = spec.features  # type: ignore[attr-defined]
        return cls(
            [FeatureSpec(f.name, f.transform, f.interval, dict(f.params)) for f in features],
            base_interval=spec.base_interval,  # type: ignore[attr-defined]
            registry=registry,
        )

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self._columns)

    @property
    def column_warmups(self) -> tuple[int, ...]:
        return tuple(column.kernel.warmup for column in self._columns)

    @property
    def warmup(self) -> int:
        """Base bars before every column is trusted (what ``FeatureSet.status.warmupBars`` reports)."""
        return max(self.column_warmups, default=0)

    @property
    def context_intervals(self) -> tuple[str, ...]:
        return tuple(sorted({c.interval for c in self._columns if c.interval is not None}))

    def batch(self, inputs: Inputs) -> FloatArray:
        """``rows x columns`` float64; raises :class:`SourceQuarantine` before computing from bad rows."""
        inputs.check()
        out = np.empty((len(inputs.bars), len(self._columns)))
        memo: Memo = {}
        for index, column in enumerate(self._columns):
            values = column.kernel.batch(inputs.bars, inputs, memo)
            values[: column.kernel.warmup] = math.nan
            out[:, index] = values
        return out

    def incremental(self, funding_schedule: FundingSchedule | None = None) -> IncrementalFeatures:
        """A fresh live evaluator; pass the same ``funding_schedule`` the batch inputs carry."""
        return IncrementalFeatures(self, funding_schedule)

    def kernels(self) -> tuple[Kernel, ...]:
        return tuple(column.kernel for column in self._columns)


class IncrementalFeatures:
    """The live twin of :meth:`FeaturePlan.batch`: feed each base bar once it has closed."""

    def __init__(self, plan: FeaturePlan, funding_schedule: FundingSchedule | None = None) -> None:
        self.plan = plan
        self._known = Known(schedule=funding_schedule)
        self._previous = NAN_BAR
        self._seen = 0
        self._context_last_ms: dict[str, int] = {}
        self._context_seen: dict[str, int] = {}
        self._funding_last_ms = self._mark_last_ms = -(2**63)
        self._funding_seen = self._mark_seen = 0
        self._context: dict[str, list[ContextStep]] = {}
        self._slots: list[tuple[int, Step | ContextStep]] = []
        for kernel in plan.kernels():
            if isinstance(kernel, Aligned):
                context_step = kernel.context_step()
                self._context.setdefault(kernel.interval, []).append(context_step)
                self._slots.append((kernel.warmup, context_step))
            else:
                self._slots.append((kernel.warmup, kernel.step()))
        self._row = np.empty(len(self._slots))

    def update(
        self,
        bar: Bar,
        *,
        context: Mapping[str, Sequence[Bar]] | None = None,
        funding: Sequence[Point] = (),
        mark: Sequence[Point] = (),
    ) -> FloatArray:
        """The row for ``bar`` (equal to the batch row); ``context``, ``funding`` and ``mark`` are what
        closed or was published since the previous call, at or before ``bar.close_time_ms``.

        Everything is checked before any state changes, so a :class:`SourceQuarantine` or
        :class:`LookAheadError` leaves the live state as it was.
        """
        self._check(bar, context or {}, funding, mark)
        for interval, bars in (context or {}).items():
            self._context_seen[interval] = self._context_seen.get(interval, 0) + len(bars)
            if bars:
                self._context_last_ms[interval] = bars[-1].close_time_ms
            for context_step in self._context.get(interval, ()):
                for context_bar in bars:
                    context_step.closed(context_bar)
        if funding:
            self._known.funding = funding[-1].value
            self._funding_last_ms, self._funding_seen = funding[-1].time_ms, self._funding_seen + len(funding)
        if mark:
            self._known.mark = mark[-1].value
            self._mark_last_ms, self._mark_seen = mark[-1].time_ms, self._mark_seen + len(mark)
        row, seen, previous, known = self._row, self._seen, self._previous, self._known
        for index, (warmup, source) in enumerate(self._slots):
            value = source.value if isinstance(source, ContextStep) else source(bar, previous, known)
            row[index] = value if seen >= warmup else math.nan
        self._previous, self._seen = bar, seen + 1
        return row.copy()

    def _check(
        self, bar: Bar, context: Mapping[str, Sequence[Bar]], funding: Sequence[Point], mark: Sequence[Point]
    ) -> None:
        bad: list[BadRow] = []
        problem = bar_problem(bar, self._previous.close_time_ms)
        if problem:
            bad.append(BadRow("bars", self._seen, bar.close_time_ms, problem))
        for interval, bars in context.items():
            last = self._context_last_ms.get(interval, -(2**63))
            for offset, context_bar in enumerate(bars):
                if context_bar.close_time_ms > bar.close_time_ms:
                    raise LookAheadError(
                        f"context[{interval}] bar closing at {context_bar.close_time_ms} ms is not closed "
                        f"at the base bar's close {bar.close_time_ms} ms"
                    )
                problem = bar_problem(context_bar, last)
                if problem:
                    index = self._context_seen.get(interval, 0) + offset
                    bad.append(BadRow(f"context[{interval}]", index, context_bar.close_time_ms, problem))
                last = context_bar.close_time_ms
        for stream, points, last_ms, seen, positive in (
            ("funding", funding, self._funding_last_ms, self._funding_seen, False),
            ("mark", mark, self._mark_last_ms, self._mark_seen, True),
        ):
            for offset, point in enumerate(points):
                if point.time_ms > bar.close_time_ms:
                    raise LookAheadError(
                        f"{stream} point at {point.time_ms} ms is after the bar's close "
                        f"{bar.close_time_ms} ms"
                    )
                problem = point_problem(
                    point, last_ms if offset == 0 else points[offset - 1].time_ms, positive=positive
                )
                if problem:
                    bad.append(BadRow(stream, seen + offset, point.time_ms, problem))
        if bad:
            raise SourceQuarantine(bad)
