"""What a reconciler decides, as data: the status to write, transitions to audit, effects to carry out.

Reconcilers are pure functions returning a :class:`Plan`; the operator's engine carries it out and
nothing else touches the world. Every effect is an explicit type below, executed in a fixed order
(see ``operator/engine.py``): snapshot rows first (they are the decision's inputs), then workloads,
then annotations of other objects, then audit records with their Events, then the status. Each
effect is idempotent, so a crash at any point is repaired by running the same pure function again
on the next pass.

Exchange snapshots are the one effect whose outcome feeds the status (the stored row's id and
version, and whether the content was new). They use a two-step decision: a decider that read the
venue returns a :class:`Recording` (the observations to store plus the pure continuation), the
engine stores them with an idempotent upsert by content and calls the continuation with what was
stored, which returns the :class:`Plan`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tradeplane.runtime.venue.snapshot_record import Observation, Recorded, SnapshotKey
from tradeplane.runtime.workloads.spec import WorkloadRef, WorkloadSpec


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
class ApplyWorkload:
    """A workload that must exist: created or updated in place, never duplicated."""

    spec: WorkloadSpec


@dataclass(frozen=True)
class StopWorkload:
    """A workload that must not run any more; stopping one already gone is a no-op."""

    ref: WorkloadRef


@dataclass(frozen=True)
class AnnotateObject:
    """Merge annotations into another object of this namespace (a nudge: it looks again).

    Merging the same keys twice is harmless, and an object deleted meanwhile needs nothing.
    """

    plural: str
    name: str
    annotations: Mapping[str, str]


Effect = ApplyWorkload | StopWorkload | AnnotateObject
"""What a plan may ask the engine to do besides auditing and writing the status."""


@dataclass(frozen=True)
class RecordSnapshot:
    """Store what the venue served as a snapshot version: a new version when the content changed,
    else a confirmation of the newest one (``runtime.venue.snapshots.record``)."""

    key: SnapshotKey
    observation: Observation
    max_age: timedelta


Stored = Mapping[SnapshotKey, Recorded]
"""The outcome of each :class:`RecordSnapshot`, by key."""


@dataclass(frozen=True)
class Plan:
    status: dict[str, Any]
    """The complete status the object should carry (camelCase JSON, as the API server stores it)."""
    audit: tuple[AuditEntry, ...] = ()
    effects: tuple[Effect, ...] = ()
    """Carried out by the engine before the audit records and the status, in the order of
    ``operator/engine.py``; when the object must be looked at again is the status's business
    (``reconcilers.requeue``), never a timer of the plan's."""

    @property
    def workloads(self) -> tuple[WorkloadSpec, ...]:
        """The workloads this plan keeps running."""
        return tuple(effect.spec for effect in self.effects if isinstance(effect, ApplyWorkload))


@dataclass(frozen=True)
class Recording:
    """The first step of a decision that read the venue: what to store, then how to decide."""

    snapshots: tuple[RecordSnapshot, ...]
    decide: Callable[[Stored], Plan]
    """Pure: the plan given what storing ``snapshots`` produced."""


Decision = Plan | Recording


def applying(workloads: Iterable[WorkloadSpec]) -> tuple[Effect, ...]:
    """The effects that keep ``workloads`` running."""
    return tuple(ApplyWorkload(spec) for spec in workloads)
