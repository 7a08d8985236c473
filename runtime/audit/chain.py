"""The hash chain, pure: link records, and find the first thing wrong with a stored chain.

A stored chain is checked in ``seq`` order. Most tampering makes some record's recomputed hash
differ from its stored one; telling *what* happened (a field edited, a row deleted, two rows'
``seq`` exchanged) is done by asking which ``seq`` a failing record would be consistent with,
because its hash still covers the ``seq`` it was written with. The verdict names the ``seq`` as
it was written, so an operator can compare it with ``status.audit`` and the Kubernetes Events.

Deleting the newest records leaves a shorter chain that is internally valid; only the anchor
(``status.audit.{seq, headHash}`` or an Event) detects that, hence the optional ``anchor``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tradeplane.runtime.audit.record import GENESIS, AuditRecord, ObjectRef


class ProblemKind(StrEnum):
    ALTERED = "altered"
    MISSING = "missing"
    OUT_OF_ORDER = "out_of_order"
    FORKED = "forked"
    BROKEN_LINK = "broken_link"


@dataclass(frozen=True)
class Problem:
    """The first defect of one chain; ``seq`` is where it is, ``other_seq`` the partner if any."""

    kind: ProblemKind
    seq: int
    other_seq: int | None = None
    last_seq: int | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.kind is ProblemKind.ALTERED:
            return f"record seq {self.seq} was altered ({self.detail or 'hash mismatch'})"
        if self.kind is ProblemKind.MISSING:
            if self.last_seq is not None and self.last_seq != self.seq:
                return f"records seq {self.seq} to {self.last_seq} are missing (deleted)"
            return f"record seq {self.seq} is missing (deleted)"
        if self.kind is ProblemKind.OUT_OF_ORDER:
            return f"records seq {self.seq} and {self.other_seq} are out of order"
        if self.kind is ProblemKind.FORKED:
            return f"the chain is forked at seq {self.seq} ({self.detail})"
        return f"record seq {self.seq} does not link to seq {self.seq - 1} ({self.detail})"


@dataclass(frozen=True)
class Anchor:
    """A head the chain must contain: what ``status.audit`` or the last Event said."""

    seq: int
    head_hash: str


def link(
    previous: AuditRecord | None,
    *,
    object: ObjectRef,
    recorded_at: datetime,
    actor: str,
    from_state: str,
    to_state: str,
    reason: str,
    message: str = "",
    evidence: dict[str, str] | None = None,
    idempotency_key: str = "",
) -> AuditRecord:
    """The record that follows ``previous`` (or starts a chain), with its hash computed."""
    draft = AuditRecord(
        object=object,
        seq=1 if previous is None else previous.seq + 1,
        prev_hash=GENESIS if previous is None else previous.hash,
        hash=GENESIS,
        recorded_at=recorded_at,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        message=message,
        evidence=dict(evidence or {}),
        idempotency_key=idempotency_key,
    )
    return draft.model_copy(update={"hash": draft.computed_hash()})


def _consistent_at(record: AuditRecord, seq: int) -> bool:
    """Would the stored hash be right had the record been written with this ``seq``?"""
    return record.model_copy(update={"seq": seq}).computed_hash() == record.hash


def _written_seq(record: AuditRecord, candidates: Iterable[int]) -> int | None:
    """The ``seq`` the record's hash was computed with, if it is one of ``candidates``."""
    return next((s for s in candidates if s != record.seq and _consistent_at(record, s)), None)


def verify(records: Sequence[AuditRecord], anchor: Anchor | None = None) -> Problem | None:
    """None when the chain is intact (and contains ``anchor``), else its first problem."""
    ordered = sorted(records, key=lambda r: r.seq)  # stable: ties keep the caller's (id) order
    top = max([len(ordered), *(r.seq for r in ordered), anchor.seq if anchor else 0]) + 1
    candidates = range(1, top + 1)
    by_seq: dict[int, AuditRecord] = {}
    for record in ordered:
        by_seq.setdefault(record.seq, record)

    accepted: list[AuditRecord] = []
    for index, record in enumerate(ordered):
        problem = _check(record, ordered[index:], accepted, candidates, by_seq)
        if problem is not None:
            return problem
        accepted.append(record)
    return None if anchor is None else _check_anchor(accepted, anchor)


def _check(
    record: AuditRecord,
    rest: Sequence[AuditRecord],
    accepted: list[AuditRecord],
    candidates: Iterable[int],
    by_seq: dict[int, AuditRecord],
) -> Problem | None:
    """The problem at ``record``, given the records accepted before it."""
    expected = len(accepted) + 1
    if record.seq < expected:  # a second record claiming an accepted seq, or seq < 1
        if record.seq >= 1 and record.computed_hash() == record.hash:
            return Problem(ProblemKind.FORKED, record.seq, detail=f"two records claim seq {record.seq}")
        return _inconsistent(record, candidates, by_seq)
    if record.seq > expected:
        return _gap(expected, record, rest)
    if record.computed_hash() != record.hash:
        return _inconsistent(record, candidates, by_seq)
    if record.prev_hash != (accepted[-1].hash if accepted else GENESIS):
        return _broken_link(record, accepted)
    return None


def _gap(expected: int, record: AuditRecord, rest: Sequence[AuditRecord]) -> Problem:
    """``expected`` is absent: deleted, unless a later record was written with that seq."""
    moved = next((r for r in rest if _consistent_at(r, expected)), None)
    if moved is not None:
        return Problem(ProblemKind.ALTERED, expected, detail=f"its seq was changed to {moved.seq}")
    return Problem(ProblemKind.MISSING, expected, last_seq=record.seq - 1)


def _check_anchor(accepted: list[AuditRecord], anchor: Anchor) -> Problem | None:
    """Truncation (the newest records deleted) or a rewrite up to the anchored head."""
    if anchor.seq < 1:
        return None
    if anchor.seq > len(accepted):
        return Problem(ProblemKind.MISSING, len(accepted) + 1, last_seq=anchor.seq)
    if accepted[anchor.seq - 1].hash != anchor.head_hash:
        return Problem(
            ProblemKind.ALTERED, anchor.seq, detail="rewritten: its hash differs from the anchored head"
        )
    return None


def _inconsistent(record: AuditRecord, candidates: Iterable[int], by_seq: dict[int, AuditRecord]) -> Problem:
    written = _written_seq(record, candidates)
    if written is None:
        return Problem(ProblemKind.ALTERED, record.seq, detail="hash mismatch")
    partner = by_seq.get(written)
    if partner is not None and partner is not record and _consistent_at(partner, record.seq):
        low, high = sorted((record.seq, written))
        return Problem(ProblemKind.OUT_OF_ORDER, low, other_seq=high)
    return Problem(ProblemKind.ALTERED, written, detail=f"its seq was changed to {record.seq}")


def _broken_link(record: AuditRecord, accepted: list[AuditRecord]) -> Problem:
    """The record's own hash is right but it does not follow its predecessor."""
    parent_seq = 0 if record.prev_hash == GENESIS else None
    for earlier in accepted:
        if earlier.hash == record.prev_hash:
            parent_seq = earlier.seq
    if parent_seq is not None:  # written on top of an older head: two children of one record
        return Problem(
            ProblemKind.FORKED,
            parent_seq + 1,
            other_seq=record.seq,
            detail=f"seq {parent_seq + 1} and seq {record.seq} both follow seq {parent_seq}",
        )
    return Problem(
        ProblemKind.BROKEN_LINK,
        record.seq,
        detail=f"prev_hash mismatch: seq {record.seq - 1} or this record was rewritten",
    )


def chain_label(records: Sequence[AuditRecord]) -> str:
    """``Kind/namespace/name`` as the chain's first record states it."""
    first = min(records, key=lambda r: r.seq)
    return first.object.label


def group_by_uid(records: Iterable[AuditRecord]) -> dict[str, list[AuditRecord]]:
    """Chains are per object uid: a deleted and re-created object starts a new chain."""
    chains: dict[str, list[AuditRecord]] = {}
    for record in records:
        chains.setdefault(record.object.uid, []).append(record)
    return chains


def describe(records: Sequence[AuditRecord], problem: Problem) -> str:
    return f"{chain_label(records)}: {problem.describe()}"
