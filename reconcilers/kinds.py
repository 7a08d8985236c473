"""Reconcilers for kinds whose reference checks are all this control-plane release can do.

The planes behind Model, ModelVersion and Rollout (training, execution) arrive in later releases
(Instrument and FeatureSet have theirs: ``instrument.py``, ``featureset.py``). Until then these
objects resolve their references and then say honestly that they wait for their plane:
Ready=False, Reconciling=True, never a fake Ready. Venue checks its credentials Secret;
RiskPolicy runs the kill-switch state machine (see ``riskpolicy.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tradeplane.crds.common import Condition
from tradeplane.reconcilers.conditions import Outcome, Progress, apply_outcome, first_sight
from tradeplane.reconcilers.plan import Plan
from tradeplane.reconcilers.references import Observed, Reference, missing_references

PLANE_PENDING: dict[str, str] = {
    "Model": "training and promotion gates",
    "ModelVersion": "evaluation and gate decisions",
    "Rollout": "the executor and capital weights",
}


@dataclass(frozen=True)
class SecretCheck:
    """Presence of a Secret and of the keys a Venue names, never the values."""

    exists: bool
    keys: frozenset[str] = frozenset()


def conditions_of(status: Mapping[str, Any] | None) -> list[Condition]:
    raw = (status or {}).get("conditions") or []
    return [Condition.model_validate(item) for item in raw]


def status_with(
    status: Mapping[str, Any] | None,
    outcome: Outcome,
    *,
    generation: int | None,
    now: datetime,
    **fields: Any,
) -> dict[str, Any]:
    """The full status: previous fields, updated conditions, and kind-specific ``fields``."""
    seen = first_sight(conditions_of(status), generation=generation, now=now)
    conditions = apply_outcome(seen, outcome, generation=generation, now=now)
    result = dict(status or {})
    result.update(fields)
    result["conditions"] = [c.to_k8s() for c in conditions]
    result["observedGeneration"] = generation
    return result


def _waiting(kind: str, found: str) -> Outcome:
    return Outcome(
        Progress.PROGRESSING,
        "WaitingForPlane",
        f"{found}; {PLANE_PENDING[kind]} is not available in this release yet",
    )


def reconcile_pending_plane(
    kind: str,
    refs: list[Reference],
    observed: Mapping[Reference, Observed],
    status: Mapping[str, Any] | None,
    *,
    generation: int | None,
    now: datetime,
) -> Plan:
    outcome = missing_references(refs, observed) or _waiting(kind, "references resolved")
    return Plan(status=status_with(status, outcome, generation=generation, now=now))
