"""The feature contract: the resolved, canonical form of a FeatureSet that a model is trained against.

Why it exists: ``FeatureSet.spec`` is what a user wrote (parameters omitted when they are defaults,
intervals omitted when they are the base, decimals written ``"2"`` or ``"2.0"``), so hashing the spec
would give two fingerprints to one set of numbers. The contract resolves everything the numbers depend
on (defaults filled in by the registry, intervals made explicit, decimals in one canonical spelling,
warm-ups, the streams read) and hashes *that*. Two specs that compute the same columns therefore share
a fingerprint, and any change to a column, its order, its parameters, its interval or the normalisation
gives a new one.

Deliberately *not* in the contract: the instruments (one contract may serve several, the dataset
snapshot hash names the instrument) and ``snapshotRetention`` (bookkeeping, not numbers). Also not in
it, and a known limit: the formula code behind a transform name; the golden vectors (tests/golden/)
are what catch a formula that changes under an unchanged name.

Canonical JSON has no floats anywhere (:func:`canonical_bytes` refuses one): integers are JSON
integers, decimals are strings with no exponent and no trailing zeros, so the bytes do not depend on
a float formatter or on dict insertion order.

The contract itself is a plain value (the FeatureSet reconciler reads it without numpy); building one
needs the registry and the plan, whose kernels are numpy, so ``build``, ``from_spec``, ``plan`` and
``interval_order`` import them when called.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeplane.runtime.features.registry import Registry, Stream, UnknownFeature
from tradeplane.runtime.intervals import longest_ms
from tradeplane.runtime.venue import canonical as venue_canonical

if TYPE_CHECKING:
    from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec

CONTRACT_VERSION = 1
DTYPE = "float64"
METHODS = ("none", "zscore", "robust", "minmax")
ParamValue = int | str
"""A canonical parameter: a registry integer, or a registry decimal as its canonical string."""


def canonical_decimal(value: Decimal | float | int | str) -> str:
    """One spelling per number: ``"2"`` for 2, 2.0 and ``"2.00"``; ``"0.1"``; never an exponent.

    Floats (the CRD's ``clip``) go through ``repr``, the shortest string that round-trips, so 5.0 and
    ``"5"`` are the same contract."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    return venue_canonical.canonical_decimal(number)


def interval_order(interval: str) -> tuple[int, str]:
    """Sort key for kline intervals by duration ("15m" before "1h"), which string order gets wrong."""
    return longest_ms(interval), interval


def _stream_order(stream: str) -> tuple[int, int, str]:
    kind, _, interval = stream.partition(":")
    return (0, *interval_order(interval)) if kind == "klines" else (1, 0, stream)


def _check_no_floats(value: object, path: str = "$") -> None:
    if isinstance(value, float):
        raise TypeError(f"float at {path} in a canonical document: write decimals as strings")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"non-string key {key!r} at {path}")
            _check_no_floats(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_no_floats(item, f"{path}[{index}]")


def canonical_bytes(document: object) -> bytes:
    """Sorted keys, compact separators, UTF-8; a float anywhere is a TypeError (see module doc)."""
    _check_no_floats(document)
    return venue_canonical.canonical_json(document).encode()


@dataclass(frozen=True)
class ContractColumn:
    """One resolved column. ``params`` is sorted by name, with every default present."""

    name: str
    transform: str
    interval: str
    params: tuple[tuple[str, ParamValue], ...]
    warmup: int
    dtype: str = DTYPE

    @property
    def params_dict(self) -> dict[str, ParamValue]:
        return dict(self.params)

    def describe(self) -> str:
        """``transform@interval(k=v, ...)``: how a mismatch message shows a column's definition."""
        shown = ", ".join(f"{key}={value}" for key, value in self.params)
        return f"{self.transform}@{self.interval}({shown})"

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transform": self.transform,
            "interval": self.interval,
            "params": dict(self.params),
            "dtype": self.dtype,
            "warmup": self.warmup,
        }


@dataclass(frozen=True)
class FeatureContract:
    """What training, backtest and live execution must agree on, and its fingerprint."""

    base_interval: str
    context_intervals: tuple[str, ...]
    columns: tuple[ContractColumn, ...]
    warmup: int
    source_intervals: tuple[str, ...]
    inputs: tuple[str, ...]
    normalization_method: str
    normalization_clip: str | None
    window: int
    version: int = CONTRACT_VERSION

    # ---- construction ---------------------------------------------------------------------------

    @classmethod
    def from_spec(cls, spec: Any, registry: Registry | None = None) -> FeatureContract:
        """From a ``FeatureSetSpec``; raises the registry's ``UnknownFeature`` / ``FeatureParamError``
        naming the offending feature column. ``registry`` defaults to the standard one."""
        from tradeplane.runtime.features.plan import FeatureSpec  # noqa: PLC0415 - numpy, see module doc

        return cls.build(
            [FeatureSpec(f.name, f.transform, f.interval, dict(f.params)) for f in spec.features],
            base_interval=spec.base_interval,
            context_intervals=spec.context_intervals,
            method=spec.normalization.method,
            clip=spec.normalization.clip,
            window=spec.window,
            registry=registry,
        )

    @classmethod
    def build(
        cls,
        features: Sequence[FeatureSpec],
        *,
        base_interval: str,
        context_intervals: Sequence[str] = (),
        method: str = "zscore",
        clip: Decimal | float | str | None = None,
        window: int = 64,
        registry: Registry | None = None,
    ) -> FeatureContract:
        """From plan specs directly (what tests, benchmarks and the standard set hold)."""
        from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec  # noqa: PLC0415 - numpy
        from tradeplane.runtime.features.standard import STANDARD  # noqa: PLC0415 - numpy

        registry = STANDARD if registry is None else registry
        if method not in METHODS:
            raise ValueError(f"normalisation method must be one of {', '.join(METHODS)}, got {method!r}")
        params: list[dict[str, ParamValue]] = []
        inputs = {f"klines:{base_interval}"}
        for feature in features:
            if feature.interval not in (None, base_interval, *context_intervals):
                raise ValueError(
                    f"feature {feature.name!r}: interval {feature.interval!r} is neither the base interval "
                    f"{base_interval!r} nor one of the context intervals {list(context_intervals)}"
                )
            try:
                definition = registry.get(feature.transform)
            except UnknownFeature as error:
                error.args = (f"feature {feature.name!r}: {error.args[0]}",)
                raise
            normalised = definition.validate(feature.params, name=feature.name)
            params.append(
                {
                    key: canonical_decimal(value) if isinstance(value, Decimal) else value
                    for key, value in normalised.items()
                }
            )
            interval = feature.interval or base_interval
            for stream in definition.inputs:
                if stream is Stream.BARS:
                    inputs.add(f"klines:{interval}")
                elif stream is not Stream.CLOCK:  # the clock is the base bar's close time
                    inputs.add(stream.value)
        plan = FeaturePlan(
            [FeatureSpec(f.name, f.transform, f.interval, p) for f, p in zip(features, params, strict=True)],
            base_interval=base_interval,
            registry=registry,
        )
        columns = tuple(
            ContractColumn(
                feature.name,
                feature.transform,
                feature.interval or base_interval,
                tuple(sorted(resolved.items())),
                warmup,
            )
            for feature, resolved, warmup in zip(features, params, plan.column_warmups, strict=True)
        )
        return cls(
            base_interval=base_interval,
            context_intervals=tuple(sorted(set(context_intervals), key=interval_order)),
            columns=columns,
            warmup=plan.warmup,
            source_intervals=tuple(
                sorted({c.interval for c in columns} | {base_interval}, key=interval_order)
            ),
            inputs=tuple(sorted(inputs, key=_stream_order)),
            normalization_method=method,
            normalization_clip=None if clip is None else canonical_decimal(clip),
            window=window,
        )

    def plan(self, registry: Registry | None = None) -> FeaturePlan:
        """The plan that computes exactly these columns (what the dataset builder and executor run)."""
        from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec  # noqa: PLC0415 - numpy
        from tradeplane.runtime.features.standard import STANDARD  # noqa: PLC0415 - numpy

        registry = STANDARD if registry is None else registry
        specs = [FeatureSpec(c.name, c.transform, c.interval, c.params_dict) for c in self.columns]
        return FeaturePlan(specs, base_interval=self.base_interval, registry=registry)

    # ---- identity -------------------------------------------------------------------------------

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def document(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "baseInterval": self.base_interval,
            "contextIntervals": list(self.context_intervals),
            "columns": [column.document() for column in self.columns],
            "warmup": self.warmup,
            "sourceIntervals": list(self.source_intervals),
            "inputs": list(self.inputs),
            "normalization": {"method": self.normalization_method, "clip": self.normalization_clip},
            "window": self.window,
        }

    def canonical_json(self) -> bytes:
        return canonical_bytes(self.document())

    @property
    def fingerprint(self) -> str:
        return "sha256:" + hashlib.sha256(self.canonical_json()).hexdigest()

    def to_json(self) -> str:
        return self.canonical_json().decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> FeatureContract:
        """Exactly the contract that was written (same fingerprint), without consulting a registry, so
        a stored model's contract still loads after the registry has moved on."""
        document = json.loads(text)
        if document.get("version") != CONTRACT_VERSION:
            raise ValueError(f"feature contract version {document.get('version')!r} is not supported")
        _check_no_floats(document)
        columns = tuple(
            ContractColumn(
                c["name"],
                c["transform"],
                c["interval"],
                tuple(sorted(c["params"].items())),
                c["warmup"],
                c["dtype"],
            )
            for c in document["columns"]
        )
        return cls(
            base_interval=document["baseInterval"],
            context_intervals=tuple(document["contextIntervals"]),
            columns=columns,
            warmup=document["warmup"],
            source_intervals=tuple(document["sourceIntervals"]),
            inputs=tuple(document["inputs"]),
            normalization_method=document["normalization"]["method"],
            normalization_clip=document["normalization"]["clip"],
            window=document["window"],
            version=document["version"],
        )

    def summary(self) -> dict[str, Any]:
        """The ``FeatureSet.status`` fields this contract fills (snake_case field names), so the
        reconciler can ``model_copy(update=...)`` without restating what they mean."""
        return {
            "fingerprint": self.fingerprint,
            "columns": len(self.columns),
            "warmup_bars": self.warmup,
            "contract": {
                "intervals": list(self.source_intervals),
                "normalization": self.normalization_method,
            },
        }
