"""kstatus-conformant conditions: Ready, Reconciling and Stalled, computed from one outcome.

Flux and Argo CD judge an object by these three (reference: kstatus). A reconciler says what it
found as an :class:`Outcome`; this module turns that into the condition list, keeping
``lastTransitionTime`` when a condition's status does not change so that watchers see real
transitions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from tradeplane.crds.common import Condition

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"

ConditionStatus = Literal["True", "False", "Unknown"]


class Progress(Enum):
    """Where an object stands; each maps to exactly one kstatus verdict."""

    READY = "ready"
    """Converged: Ready=True (kstatus Current)."""
    PROGRESSING = "progressing"
    """Work under way or waiting on something that will change by itself: Reconciling=True (InProgress)."""
    STALLED = "stalled"
    """Cannot progress until a person changes something: Stalled=True (Failed)."""


@dataclass(frozen=True)
class Outcome:
    progress: Progress
    reason: str
    message: str


def raw_ready(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The Ready condition of a status as plain JSON (indexes and due rules read it unparsed)."""
    for condition in (status or {}).get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == READY:
            return condition
    return None


def find(conditions: Sequence[Condition], condition_type: str) -> Condition | None:
    return next((c for c in conditions if c.type == condition_type), None)


def is_true(conditions: Sequence[Condition], condition_type: str) -> bool:
    found = find(conditions, condition_type)
    return found is not None and found.status == "True"


def set_condition(
    conditions: Sequence[Condition],
    condition_type: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """Replace one condition, moving ``lastTransitionTime`` only when the status changes."""
    previous = find(conditions, condition_type)
    since = previous.last_transition_time if previous is not None and previous.status == status else now
    updated = Condition(
        type=condition_type,
        status=status,
        observed_generation=generation,
        last_transition_time=since,
        reason=reason,
        message=message,
    )
    kept = [c for c in conditions if c.type != condition_type]
    return [*kept, updated]


def first_sight(conditions: Sequence[Condition], *, generation: int | None, now: datetime) -> list[Condition]:
    """Stamp Reconciling=True and Ready=Unknown on an object the operator has not judged yet.

    Without it a freshly applied object has no conditions, which kstatus reads as Current and
    Argo CD as Healthy: a GitOps sync would report success before anything happened.
    """
    if find(conditions, READY) is not None:
        return list(conditions)
    note = "not reconciled yet"
    stamped = set_condition(conditions, READY, "Unknown", "Reconciling", note, generation=generation, now=now)
    return set_condition(stamped, RECONCILING, "True", "Reconciling", note, generation=generation, now=now)


def apply_outcome(
    conditions: Sequence[Condition], outcome: Outcome, *, generation: int | None, now: datetime
) -> list[Condition]:
    """Ready / Reconciling / Stalled as one consistent triple for ``outcome``."""
    verdicts: dict[str, ConditionStatus] = {
        READY: "True" if outcome.progress is Progress.READY else "False",
        RECONCILING: "True" if outcome.progress is Progress.PROGRESSING else "False",
        STALLED: "True" if outcome.progress is Progress.STALLED else "False",
    }
    result = list(conditions)
    for condition_type, status in verdicts.items():
        result = set_condition(
            result, condition_type, status, outcome.reason, outcome.message, generation=generation, now=now
        )
    return result


def same_conditions(left: Sequence[Condition], right: Sequence[Condition]) -> bool:
    """Equal ignoring order: lets a reconciler skip a status write that would change nothing."""
    return sorted(left, key=lambda c: c.type) == sorted(right, key=lambda c: c.type)
