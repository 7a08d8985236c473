"""The audit log in PostgreSQL: append one transition, read a chain, verify the stored log.

Write order (control-plane.md section 4): append the record first, then patch ``status.audit``.
``append`` is idempotent on the transition's idempotency key, so a reconciler that crashed after
the append and before the patch retries, gets the stored record back, and patches with it.

Appends to one object are serialised by a transaction-scoped advisory lock on the object's uid
(taken before the head is read), so concurrent appenders never fork the chain; the
UNIQUE(object_uid, seq) constraint is the backstop. This relies on READ COMMITTED (PostgreSQL's
default): each statement after the lock sees what the previous lock holder committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.audit import chain
from tradeplane.runtime.audit.chain import Problem
from tradeplane.runtime.audit.record import AuditRecord, ObjectRef, Transition

LOCK_CLASS = 0x41554454 & 0x7FFFFFFF  # "AUDT": keeps these advisory locks apart from other planes'
"""First key of ``pg_advisory_xact_lock(int, int)``; the second is ``hashtext(uid)``."""

audit_log = Table(
    "audit_log",
    MetaData(schema="tradeplane"),
    Column("id", BigInteger, primary_key=True),
    *(Column(name, Text) for name in ("object_kind", "object_namespace", "object_name", "object_uid")),
    Column("seq", Integer),
    Column("prev_hash", Text),
    Column("hash", Text),
    Column("recorded_at", DateTime(timezone=True)),
    Column("actor", Text),
    Column("generation", BigInteger),
    *(Column(name, Text) for name in ("from_state", "to_state", "reason", "message")),
    Column("evidence", JSONB),
    Column("idempotency_key", Text),
)
"""What the code reads and writes; the DDL, privileges and triggers are migration 0002."""


def _select() -> Select[Any]:
    return select(*(c for c in audit_log.c if c.name != "id"))


def _record(row: Any) -> AuditRecord:
    """A stored row as it is, without validation: tampered rows must load so they can be judged."""
    values = row._mapping
    return AuditRecord.model_construct(
        object=ObjectRef.model_construct(
            kind=values["object_kind"],
            namespace=values["object_namespace"],
            name=values["object_name"],
            uid=values["object_uid"],
            generation=values["generation"],
        ),
        seq=values["seq"],
        prev_hash=values["prev_hash"],
        hash=values["hash"],
        recorded_at=values["recorded_at"],
        actor=values["actor"],
        from_state=values["from_state"],
        to_state=values["to_state"],
        reason=values["reason"],
        message=values["message"],
        evidence=dict(values["evidence"]),
        idempotency_key=values["idempotency_key"],
    )


async def append(target: AsyncEngine | AsyncConnection, transition: Transition) -> AuditRecord:
    """Record ``transition`` as the object's next link, or return the record a retry already stored.

    With an engine, the append is its own transaction. With a connection already in a
    transaction, it joins it: the lock is held and the row is visible only when the caller commits.
    """
    if isinstance(target, AsyncEngine):
        async with target.begin() as connection:
            return await _append(connection, transition)
    if target.in_transaction():
        return await _append(target, transition)
    async with target.begin():
        return await _append(target, transition)


async def _append(connection: AsyncConnection, transition: Transition) -> AuditRecord:
    uid, key = transition.object.uid, transition.idempotency_key
    await connection.execute(
        text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:uid))"),
        {"lock_class": LOCK_CLASS, "uid": uid},
    )
    stored = await connection.execute(
        _select().where(audit_log.c.object_uid == uid, audit_log.c.idempotency_key == key)
    )
    existing = stored.first()
    if existing is not None:
        return _record(existing)

    current = await head(connection, uid)
    recorded_at = transition.at
    if recorded_at is None:
        recorded_at = (await connection.execute(select(func.clock_timestamp()))).scalar_one()
    record = chain.link(
        current,
        object=transition.object,
        recorded_at=recorded_at,
        actor=transition.actor,
        from_state=transition.from_state,
        to_state=transition.to_state,
        reason=transition.reason,
        message=transition.message,
        evidence=transition.evidence,
        idempotency_key=key,
    )
    await connection.execute(
        insert(audit_log).values(
            object_kind=record.object.kind,
            object_namespace=record.object.namespace,
            object_name=record.object.name,
            object_uid=uid,
            seq=record.seq,
            prev_hash=record.prev_hash,
            hash=record.hash,
            recorded_at=record.recorded_at,
            actor=record.actor,
            generation=record.object.generation,
            from_state=record.from_state,
            to_state=record.to_state,
            reason=record.reason,
            message=record.message,
            evidence=dict(record.evidence),
            idempotency_key=key,
        )
    )
    return record


async def head(connection: AsyncConnection, uid: str) -> AuditRecord | None:
    """The newest record of the object's chain (what ``status.audit`` should point at)."""
    result = await connection.execute(
        _select()
        .where(audit_log.c.object_uid == uid)
        .order_by(audit_log.c.seq.desc(), audit_log.c.id.desc())
        .limit(1)
    )
    row = result.first()
    return None if row is None else _record(row)


def _named(query: Select[Any], obj: tuple[str, str, str]) -> Select[Any]:
    kind, namespace, name = obj
    return query.where(
        audit_log.c.object_kind == kind,
        audit_log.c.object_namespace == namespace,
        audit_log.c.object_name == name,
    )


async def chain_for(connection: AsyncConnection, kind: str, namespace: str, name: str) -> list[AuditRecord]:
    """Every record stored under this name, chain by chain (oldest uid first), each in seq order.

    A name outlives its objects: a deleted and re-created object has a new uid and a new chain.
    """
    result = await connection.execute(
        _named(_select(), (kind, namespace, name)).order_by(
            func.min(audit_log.c.id).over(partition_by=audit_log.c.object_uid),
            audit_log.c.seq,
            audit_log.c.id,
        )
    )
    return [_record(row) for row in result]


@dataclass(frozen=True)
class ChainResult:
    """One object's chain as verified: its first problem, if any."""

    uid: str
    label: str
    records: int
    problem: Problem | None

    def describe(self) -> str:
        return f"{self.label}: {'OK' if self.problem is None else self.problem.describe()}"


@dataclass(frozen=True)
class LogReport:
    chains: list[ChainResult] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(c.records for c in self.chains)

    @property
    def broken(self) -> list[ChainResult]:
        return [c for c in self.chains if c.problem is not None]


def _judge(records: list[AuditRecord]) -> ChainResult:
    return ChainResult(
        uid=records[0].object.uid,
        label=chain.chain_label(records),
        records=len(records),
        problem=chain.verify(records),
    )


async def verify_log(connection: AsyncConnection, obj: tuple[str, str, str] | None = None) -> LogReport:
    """Verify every chain (or those stored under one ``(kind, namespace, name)``), streaming by uid.

    Selecting by name means a record whose name was edited drops out of that object's view and
    shows up as missing there; verifying the whole log reports it as altered instead.
    """
    query = _select() if obj is None else _named(_select(), obj)
    rows = await connection.stream(query.order_by(audit_log.c.object_uid, audit_log.c.seq, audit_log.c.id))
    results: list[ChainResult] = []
    current: list[AuditRecord] = []
    async for row in rows:
        record = _record(row)
        if current and record.object.uid != current[0].object.uid:
            results.append(_judge(current))
            current = []
        current.append(record)
    if current:
        results.append(_judge(current))
    return LogReport(chains=results)


def verify_records(records: Iterable[AuditRecord]) -> LogReport:
    """The same verdicts as ``verify_log`` for records already in memory (exports, tests)."""
    return LogReport(chains=[_judge(chain_) for chain_ in chain.group_by_uid(records).values()])
