"""References across kinds: which objects a spec points at, and what their absence means.

A missing reference is not the user's final word: GitOps applies objects in any order, so an
Instrument may arrive before its Venue. Absence is therefore Progressing (Ready=False with a
``<Kind>NotFound`` reason) and the object converges by itself once the target appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from tradeplane.crds.common import LocalObjectReference
from tradeplane.crds.registry import BY_KIND
from tradeplane.reconcilers.conditions import Outcome, Progress


@dataclass(frozen=True, order=True)
class Reference:
    kind: str
    plural: str
    name: str


@dataclass(frozen=True)
class Observed:
    """What the operator found for one reference."""

    exists: bool
    ready: bool = False


# spec field -> the kind it names (plurals come from the registry); lists are expanded.
_FIELDS: dict[str, str] = {
    "venue_ref": "Venue",
    "instrument_ref": "Instrument",
    "instrument_refs": "Instrument",
    "feature_set_ref": "FeatureSet",
    "model_ref": "Model",
    "candidate_ref": "ModelVersion",
    "risk_policy_ref": "RiskPolicy",
}


def _reference(kind: str, name: str) -> Reference:
    return Reference(kind, BY_KIND[kind].plural, name)


def references(spec: BaseModel) -> list[Reference]:
    """Every same-namespace object ``spec`` names, in a stable order."""
    found: set[Reference] = set()
    for field, kind in _FIELDS.items():
        value = getattr(spec, field, None)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, LocalObjectReference):
                found.add(_reference(kind, item.name))
    scope = getattr(spec, "scope", None)
    for item in getattr(scope, "instrument_refs", None) or []:
        found.add(_reference("Instrument", item.name))
    return sorted(found)


def missing_references(refs: list[Reference], observed: Mapping[Reference, Observed]) -> Outcome | None:
    """Progressing with ``<Kind>NotFound`` naming the first absent target, or None when all exist."""
    absent = [ref for ref in refs if not observed.get(ref, Observed(exists=False)).exists]
    if not absent:
        return None
    first = absent[0]
    others = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
    return Outcome(
        Progress.PROGRESSING,
        f"{first.kind}NotFound",
        f"{first.kind} {first.name!r} does not exist in this namespace{others}; waiting for it",
    )
