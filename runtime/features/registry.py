"""Feature definitions by transform name: parameters, declared inputs, warm-up and the kernel builder.

Why this shape: the FeatureSet contract names transforms and passes ``int | str`` parameters
(decimals as strings, so fingerprints never depend on float formatting). A definition validates those
parameters once into normalised values, with an error that names the feature, the parameter and the
allowed range, and builds the :class:`Kernel` that both batch and live evaluation run. The parameter
declarations (:class:`Param`: name, kind, range, default) live in ``crds.feature_parameters``,
numpy-free, because the FeatureSet schema the API server serves is generated from the same ones.
Registries are plain objects so tests can register deliberately broken transforms without touching
the standard one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from tradeplane.crds.feature_parameters import Param

if TYPE_CHECKING:  # the kernels are numpy; reconcilers read a registry's errors without them
    from tradeplane.runtime.features.kernels import Kernel

ParamValue = int | str
Normalised = dict[str, int | Decimal]


class Stream(enum.Enum):
    """Which inputs a feature reads, so a plan can refuse a feature whose inputs it cannot supply."""

    BARS = "bars"
    """OHLCV of the feature's interval (the base interval, or a context interval when set)."""
    FUNDING = "funding"
    FUNDING_SCHEDULE = "funding_schedule"
    MARK = "mark"
    CLOCK = "clock"
    """Only the bar's close time."""


class UnknownFeature(KeyError):
    """No transform by that name; the message lists the known ones."""

    def __init__(self, transform: str, known: list[str]) -> None:
        self.transform = transform
        super().__init__(f"unknown feature transform {transform!r}; known: {', '.join(known)}")

    def __str__(self) -> str:
        return str(self.args[0])


class FeatureParamError(ValueError):
    """A parameter that is missing, unknown, of the wrong type or out of range."""

    def __init__(self, feature: str, param: str, problem: str) -> None:
        self.feature, self.param = feature, param
        super().__init__(f"feature {feature!r}: parameter {param!r} {problem}")


def normalise(param: Param, feature: str, value: object) -> int | Decimal:
    """``value`` checked against its declaration: an ``int``, or a ``Decimal`` for decimal parameters."""
    low, high = (Decimal(str(param.minimum)), Decimal(str(param.maximum)))
    if param.decimal:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise FeatureParamError(feature, param.name, f"must be a decimal string, got {value!r}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise FeatureParamError(
                feature, param.name, f"must be a decimal string like '2.5', got {value!r}"
            ) from None
        if not number.is_finite() or not low <= number <= high:
            raise FeatureParamError(
                feature, param.name, f"must be a decimal in [{param.minimum}, {param.maximum}], got {value!r}"
            )
        return number
    if isinstance(value, bool) or not isinstance(value, int):
        raise FeatureParamError(feature, param.name, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise FeatureParamError(
            feature, param.name, f"must be an integer in [{param.minimum}, {param.maximum}], got {value}"
        )
    return value


@dataclass(frozen=True)
class FeatureDef:
    """A registered transform. ``build`` receives normalised parameters and returns the kernel."""

    transform: str
    doc: str
    inputs: frozenset[Stream]
    build: Callable[[Normalised], Kernel]
    params: tuple[Param, ...] = ()
    check: Callable[[str, Normalised], None] | None = None
    """Cross-parameter rules (e.g. MACD fast < slow); raises :class:`FeatureParamError`."""

    def validate(self, params: Mapping[str, object], *, name: str | None = None) -> Normalised:
        """Parameters with defaults filled in and decimals parsed; errors name ``name`` (or the transform)."""
        feature = name or self.transform
        known = {param.name: param for param in self.params}
        for key in params:
            if key not in known:
                allowed = ", ".join(known) or "none"
                raise FeatureParamError(
                    feature, key, f"is not a parameter of {self.transform} (allowed: {allowed})"
                )
        normalised = {
            param.name: normalise(param, feature, params.get(param.name, param.default))
            for param in self.params
        }
        if self.check is not None:
            self.check(feature, normalised)
        return normalised

    def kernel(self, params: Mapping[str, object], *, name: str | None = None) -> Kernel:
        return self.build(self.validate(params, name=name))

    def warmup(self, params: Mapping[str, object]) -> int:
        """Bars of the feature's own interval before its value is trusted."""
        return self.kernel(params).warmup

    @property
    def bars_only(self) -> bool:
        """Only bar-only features may run on a context interval (funding has no interval)."""
        return self.inputs <= {Stream.BARS}


@dataclass
class Registry:
    """Transform name -> definition."""

    definitions: dict[str, FeatureDef] = field(default_factory=dict)

    def register(self, definition: FeatureDef) -> FeatureDef:
        if definition.transform in self.definitions:
            raise ValueError(f"feature transform {definition.transform!r} is already registered")
        self.definitions[definition.transform] = definition
        return definition

    def get(self, transform: str) -> FeatureDef:
        try:
            return self.definitions[transform]
        except KeyError:
            raise UnknownFeature(transform, self.names()) from None

    def names(self) -> list[str]:
        return sorted(self.definitions)

    def copy(self) -> Registry:
        return Registry(dict(self.definitions))
