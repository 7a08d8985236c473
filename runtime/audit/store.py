"""The audit log in PostgreSQL: append one transition, read a chain, verify the stored log.

Write order (control-plane.md section 4): append the record first, then patch ``status.audit``.
``append`` is idempotent on the transition's idempotency key, so a reconciler that crashed after
the append and before the patch retries, gets the stored record back, and patches with it.

Appends are optimistic, two statements and no lock: one reads the record the key already names,
the chain head and the database clock together; the other inserts the next link with ON CONFLICT
DO NOTHING. The constraints decide every race: UNIQUE(object_uid, seq) refuses a second link after
the same head (so concurrent appenders never fork the chain) and UNIQUE(object_uid,
idempotency_key) a second record of one decision; the loser reads again and links after the winner
or returns the winner's record. An operator appends to one object at a time, so a retry is rare,
and a pass pays two round trips instead of a transaction around a lock and four reads. This
relies on READ COMMITTED (PostgreSQL's default): each read sees what the winner committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.audit import chain
from tradeplane.runtime.audit.chain import Problem
from tradeplane.runtime.audit.record import AuditRecord, ObjectRef, Transition

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


COLUMNS = tuple(column.name for column in audit_log.c if column.name != "id")
"""A record's columns (the row id only orders records that share a seq)."""


def _select() -> Select[Any]:
    return select(*(audit_log.c[name] for name in COLUMNS))


def _record(values: Mapping[str, Any]) -> AuditRecord:
    """A stored row as it is, without validation: tampered rows must load so they can be judged."""
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


MAX_ATTEMPTS = 64
"""Lost races before an append gives up: each loss means another record was appended meanwhile."""


class AppendContention(RuntimeError):
    """The chain kept moving under this append (a writer loop, not a reconcile pass)."""


async def append(target: AsyncEngine | AsyncConnection, transition: Transition) -> AuditRecord:
    """Record ``transition`` as the object's next link, or return the record a retry already stored.

    With an engine, each statement commits by itself. With a connection already in a transaction,
    the append joins it: the row is visible only when the caller commits (a concurrent appender
    then waits on the conflicting insert, and takes the next seq if the caller commits).
    """
    if isinstance(target, AsyncEngine):
        async with target.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await _append(autocommit, transition)
    if target.in_transaction():
        return await _append(target, transition)
    async with target.begin():
        return await _append(target, transition)


_STATE = text(
    f"""
    SELECT clock_timestamp() AS clock, stored.*, newest.*
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT {", ".join(f"{c} AS stored_{c}" for c in COLUMNS)}
        FROM tradeplane.audit_log WHERE object_uid = :uid AND idempotency_key = :key
    ) AS stored ON true
    LEFT JOIN LATERAL (
        SELECT {", ".join(f"{c} AS newest_{c}" for c in COLUMNS)}
        FROM tradeplane.audit_log WHERE object_uid = :uid ORDER BY seq DESC, id DESC LIMIT 1
    ) AS newest ON true
    """  # noqa: S608 - column names come from the table definition above, values are bound
).columns(stored_evidence=JSONB, newest_evidence=JSONB)
"""The record this key already names, the chain head and the clock, in one round trip."""


def _prefixed(row: Any, prefix: str) -> AuditRecord | None:
    values = row._mapping
    if values[f"{prefix}object_uid"] is None:
        return None
    return _record({name: values[f"{prefix}{name}"] for name in COLUMNS})


async def _append(connection: AsyncConnection, transition: Transition) -> AuditRecord:
    uid, key = transition.object.uid, transition.idempotency_key
    for _attempt in range(MAX_ATTEMPTS):
        state = (await connection.execute(_STATE, {"uid": uid, "key": key})).one()
        existing = _prefixed(state, "stored_")
        if existing is not None:
            return existing
        record = chain.link(
            _prefixed(state, "newest_"),
            object=transition.object,
            recorded_at=transition.at if transition.at is not None else state._mapping["clock"],
            actor=transition.actor,
            from_state=transition.from_state,
            to_state=transition.to_state,
            reason=transition.reason,
            message=transition.message,
            evidence=transition.evidence,
            idempotency_key=key,
        )
        inserted = await connection.execute(
            pg_insert(audit_log)
            .values(
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
            .on_conflict_do_nothing()
            .returning(audit_log.c.seq)
        )
        if inserted.first() is not None:
            return record
    raise AppendContention(
        f"{transition.object.label}: the chain moved {MAX_ATTEMPTS} times during one append"
    )


async def head(connection: AsyncConnection, uid: str) -> AuditRecord | None:
    """The newest record of the object's chain (what ``status.audit`` should point at)."""
    result = await connection.execute(
        _select()
        .where(audit_log.c.object_uid == uid)
        .order_by(audit_log.c.seq.desc(), audit_log.c.id.desc())
        .limit(1)
    )
    row = result.first()
    return None if row is None else _record(row._mapping)


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
    return [_record(row._mapping) for row in result]


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
        record = _record(row._mapping)
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
