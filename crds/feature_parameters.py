"""The parameters of every standard feature transform: name, kind (integer or decimal), range, default.

Why here and why numpy-free: these declarations are both the FeatureSet API the API server serves
(each parameter typed, each tied to the transforms that take it) and what the feature registry
validates and normalises against (``runtime/features/standard.py`` registers its kernels on exactly
these). ``crds`` is imported by the CLI, the CRD generator and the Argo CD health rendering, so the
declarations live apart from the kernels and never pull in numpy.

What the served schema leaves to the registry, which the operator runs: a transform's own range
where it is narrower than the widest one of its parameter name (the property is shared, so ``n``
allows 1..10000 while rsi takes at most 1000), a decimal's range (the API server compares no decimal
strings), cross-parameter rules (MACD fast below slow), keys no transform takes, and anything stored
under an older CRD. Those show as ``Stalled``/``InvalidFeatureParameter`` naming the feature, the
parameter and the allowed range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tradeplane.crds.common import DECIMAL_PATTERN, SIGNED_DECIMAL_PATTERN, cel


@dataclass(frozen=True)
class Param:
    """One parameter: an integer or a decimal string, with an inclusive range and a default.

    A declaration only: the registry (``runtime.features.registry``) validates values against it.
    """

    name: str
    default: int | str
    minimum: int | str
    maximum: int | str
    decimal: bool = False


N = Param("n", 20, 2, 10_000)
K = Param("k", "2", "0.1", "10", decimal=True)
NORMALIZE = Param("normalize", 1, 0, 1)
MACD = (Param("fast", 12, 2, 1_000), Param("slow", 26, 3, 1_000), Param("signal", 9, 2, 1_000), NORMALIZE)

STANDARD_PARAMETERS: Mapping[str, tuple[Param, ...]] = MappingProxyType(
    {
        "atr": (Param("n", 14, 2, 1_000), NORMALIZE),
        "bar.range": (),
        "bar.return": (),
        "basis.mark": (),
        "bollinger.percent_b": (N, K),
        "bollinger.width": (N, K),
        "ema_distance": (N,),
        "funding.rate": (),
        "funding.time_to_next": (),
        "log_return": (Param("n", 1, 1, 10_000),),
        "macd": MACD,
        "macd.histogram": MACD,
        "macd.signal": MACD,
        "realized_vol.close_to_close": (N,),
        "realized_vol.garman_klass": (N,),
        "realized_vol.parkinson": (N,),
        "rsi": (Param("n", 14, 2, 1_000),),
        "sma_distance": (N,),
        "time.hour_cos": (),
        "time.hour_sin": (),
        "time.weekday_cos": (),
        "time.weekday_sin": (),
        "volume_zscore": (N,),
        "vwap_distance": (N,),
    }
)
"""Transform name -> its parameters, for every transform of the standard registry (none: ``()``)."""


def _uses(declared: Mapping[str, tuple[Param, ...]]) -> dict[str, list[tuple[str, Param]]]:
    """Parameter name -> (transform, declaration) for every transform that takes it, sorted."""
    uses: dict[str, list[tuple[str, Param]]] = {}
    for transform, params in sorted(declared.items()):
        for param in params:
            uses.setdefault(param.name, []).append((transform, param))
    return dict(sorted(uses.items()))


def _ranges(uses: list[tuple[str, Param]]) -> str:
    """``rsi, atr: 2..1000 (default 14); ...``: what each transform allows, for ``kubectl explain``."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for transform, param in uses:
        key = (str(param.minimum), str(param.maximum), str(param.default))
        groups.setdefault(key, []).append(transform)
    return "; ".join(
        f"{', '.join(transforms)}: {low}..{high} (default {default})"
        for (low, high, default), transforms in groups.items()
    )


def _property(name: str, uses: list[tuple[str, Param]]) -> dict[str, Any]:
    """One parameter's schema: its type, and for integers the widest range any transform allows."""
    kinds = {param.decimal for _, param in uses}
    if len(kinds) != 1:
        raise ValueError(f"parameter {name!r} must be a decimal for every transform or for none")
    params = [param for _, param in uses]
    if kinds == {True}:
        signed = any(Decimal(str(param.minimum)) < 0 for param in params)
        return {
            "type": "string",
            "pattern": SIGNED_DECIMAL_PATTERN if signed else DECIMAL_PATTERN,
            "maxLength": 33 if signed else 32,
            "description": f'A decimal string such as "2.5". {_ranges(uses)}.',
        }
    return {
        "type": "integer",
        "minimum": min(int(param.minimum) for param in params),
        "maximum": max(int(param.maximum) for param in params),
        "description": f"An integer. {_ranges(uses)}.",
    }


def params_schema(declared: Mapping[str, tuple[Param, ...]] = STANDARD_PARAMETERS) -> dict[str, Any]:
    """``spec.features[].params`` as the API server serves it: every parameter name, typed.

    A structural schema gives a property one type for all transforms, so the properties are the
    union of the registry's parameter names and :func:`params_rules` ties each to its transforms.
    Any other key is kept rather than pruned, so the registry refuses it by name (``Stalled``)
    instead of a misspelt parameter silently taking its default: clients that do not ask for strict
    field validation would only get a warning, and kubectl itself turns a bare ``n`` into ``false``.
    """
    properties = {name: _property(name, uses) for name, uses in _uses(declared).items()}
    return {
        "type": "object",
        "properties": properties,
        "x-kubernetes-preserve-unknown-fields": True,
        "maxProperties": 32,
        "description": "Parameters of the transform (see each one); unset ones take their default.",
    }


def params_rules(declared: Mapping[str, tuple[Param, ...]] = STANDARD_PARAMETERS) -> list[dict[str, str]]:
    """CEL on a feature: each parameter only for the transforms that take it, naming the field."""
    rules = []
    for name, uses in _uses(declared).items():
        transforms = [transform for transform, _ in uses]
        allowed = ", ".join(f"'{transform}'" for transform in transforms)
        rules.append(
            cel(
                f"!has(self.params) || !has(self.params.{name}) || self.transform in [{allowed}]",
                f"spec.features[].params.{name} is a parameter of {', '.join(transforms)} only",
                field_path=f".params.{name}",
            )
        )
    return rules
