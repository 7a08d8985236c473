"""What a reconciler decides, as data: the status to write, transitions to audit, children to run.

Reconcilers are pure functions returning a :class:`Plan`; the operator's handlers carry it out
(append audit records, apply workloads, patch status, post events) in that order, so a crash at
any point is repaired by running the same pure function again on the next pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradeplane.runtime.workloads.spec import WorkloadSpec


@dataclass(frozen=True)
class AuditEntry:
    """One state transition to append to the object's hash chain (and announce as an Event)."""

    from_state: str
    to_state: str
    reason: str
    message: str
    actor: str = "tradeplane-operator"
    evidence: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    status: dict[str, Any]
    """The complete status the object should carry (camelCase JSON, as the API server stores it)."""
    audit: tuple[AuditEntry, ...] = ()
    workloads: tuple[WorkloadSpec, ...] = ()
    """Workloads that must exist (applied idempotently before the status is written)."""
    requeue_after: float | None = None
    """Seconds until the reconciler wants to look again even if nothing changes (time-based rules)."""
