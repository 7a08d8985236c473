"""One audit record and its canonical form: the bytes the hash chain is computed over.

The canonical JSON is fixed here and nowhere else (sorted keys, no whitespace, UTF-8 kept as is,
time as RFC 3339 UTC with exactly six fractional digits), because any second serialisation would
make an honest record fail verification. PostgreSQL stores ``timestamptz`` with microsecond
precision, so a time read back from the table renders to the same string it was hashed with.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

GENESIS = "0" * 64
"""``prev_hash`` of the first record of every chain."""

_HEX = frozenset("0123456789abcdef")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refusing it here keeps append from failing half-way.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def is_sha256_hex(value: str) -> bool:
    return len(value) == 64 and set(value) <= _HEX


def _sha256_hex(value: str) -> str:
    if not is_sha256_hex(value):
        raise ValueError("must be a lowercase hex SHA-256 digest (64 characters)")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
NonEmptyText = Annotated[str, Field(min_length=1), AfterValidator(_no_nul)]
Digest = Annotated[str, AfterValidator(_sha256_hex)]


def rfc3339(moment: datetime) -> str:
    """UTC, always six fractional digits: ``2026-11-24T20:55:55.000000Z``."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed; stable under key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ObjectRef(BaseModel):
    """The Kubernetes object a chain belongs to; the chain is keyed by ``uid`` (names are reused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: NonEmptyText
    namespace: Text
    name: NonEmptyText
    uid: NonEmptyText
    generation: int = Field(ge=0)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


class AuditRecord(BaseModel):
    """A stored state transition. ``hash`` is trusted only after ``chain.verify`` recomputed it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    object: ObjectRef
    seq: int
    prev_hash: str
    hash: str
    recorded_at: datetime
    actor: NonEmptyText
    from_state: Text
    to_state: Text
    reason: NonEmptyText
    message: Text = ""
    evidence: dict[NonEmptyText, Digest] = Field(default_factory=dict)
    idempotency_key: Text = ""

    @field_validator("recorded_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("recorded_at must be timezone-aware")
        return value.astimezone(UTC)

    def hashed_fields(self) -> dict[str, Any]:
        """Everything the hash covers. Not the hash itself, the row id, or the idempotency key."""
        return {
            "time": rfc3339(self.recorded_at),
            "actor": self.actor,
            "object": {
                "kind": self.object.kind,
                "namespace": self.object.namespace,
                "name": self.object.name,
                "uid": self.object.uid,
                "generation": self.object.generation,
            },
            "from": self.from_state,
            "to": self.to_state,
            "reason": self.reason,
            "message": self.message,
            "evidence": dict(self.evidence),
            "seq": self.seq,
            "prev_hash": self.prev_hash,
        }

    def canonical(self) -> str:
        return canonical_json(self.hashed_fields())

    def computed_hash(self) -> str:
        """``sha256(prev_hash + canonical JSON)``, whatever ``hash`` currently says."""
        return sha256_hex(self.prev_hash + self.canonical())


class Transition(BaseModel):
    """What a reconciler asks to record; ``append`` turns it into the next ``AuditRecord``.

    ``token`` makes the idempotency key unique per *decision*: pass something that stays the same
    when the very same decision is retried and changes for the next one, e.g. the
    ``status.audit.seq`` the reconciler read before deciding. A crash between the append and the
    status patch then retries with the same token and gets the stored record back, while a later
    identical transition (ACTIVE -> HALTED a second time at the same generation) gets a new one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    object: ObjectRef
    actor: NonEmptyText
    from_state: Text
    to_state: Text
    reason: NonEmptyText
    message: Text = ""
    evidence: dict[NonEmptyText, Digest] = Field(default_factory=dict)
    token: Text
    at: datetime | None = None
    """Fixed record time (tests, replays); None means the database clock at append time."""

    @property
    def idempotency_key(self) -> str:
        return sha256_hex(
            canonical_json(
                {
                    "uid": self.object.uid,
                    "generation": self.object.generation,
                    "from": self.from_state,
                    "to": self.to_state,
                    "reason": self.reason,
                    "token": self.token,
                }
            )
        )
