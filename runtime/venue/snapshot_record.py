"""A venue-metadata snapshot version as a plain value: what the snapshot store returns, and what
the reconcilers and the tradability verdict read without importing the store (or SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

SnapshotKind = Literal["contract", "commission", "margin_tiers"]


@dataclass(frozen=True)
class SnapshotKey:
    namespace: str
    venue: str
    kind: SnapshotKind
    subject: str
    """The symbol for contracts and margin tiers, ``account`` for commission rates."""

    @property
    def lock_id(self) -> str:
        return f"{self.namespace}/{self.venue}/{self.kind}/{self.subject}"


@dataclass(frozen=True)
class Observation:
    """What one fetch found: a usable record with its fingerprint, or the problem with it."""

    raw: Any
    normalised: Mapping[str, Any] | None = None
    fingerprint: str | None = None
    problem: str | None = None

    def __post_init__(self) -> None:
        if (self.problem is None) == (self.fingerprint is None or self.normalised is None):
            raise ValueError("an observation has either a normalised record and fingerprint, or a problem")

    @property
    def content(self) -> tuple[str | None, str | None]:
        return (self.fingerprint, self.problem)


@dataclass(frozen=True)
class Snapshot:
    id: int
    key: SnapshotKey
    version: int
    fingerprint: str | None
    normalised: Mapping[str, Any] | None
    problem: str | None
    fetched_at: datetime
    confirmed_at: datetime
    valid_until: datetime

    @property
    def valid(self) -> bool:
        return self.problem is None

    def stale(self, now: datetime) -> bool:
        return now > self.valid_until


@dataclass(frozen=True)
class Recorded:
    """The current snapshot after a fetch, and the one it replaced when the content changed."""

    current: Snapshot
    replaced: Snapshot | None
    created: bool
