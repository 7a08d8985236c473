"""Versioned exchange-metadata snapshots in PostgreSQL (table ``tradeplane.venue_snapshots``).

A snapshot version is immutable content: the raw record as the venue served it, the normalised
record and its fingerprint, or the problem that made the payload unusable. Seeing the same content
again only confirms it (``confirmed_at`` and ``valid_until`` move forward); anything else is a new
version. An invalid payload is recorded as a version too, so the newest version always says what
the venue serves now and an invalid one can never be mistaken for the last good one.

Writers of one subject are serialised by a transaction-scoped advisory lock; the unique
(subject, version) constraint is the backstop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.venue.metadata import ContractRecord
from tradeplane.runtime.venue.snapshot_record import (
    Observation,
    Recorded,
    Snapshot,
    SnapshotKey,
    SnapshotKind,
)
from tradeplane.runtime.venue.tradability import Trading, TradingBlocked, judge

__all__ = [
    "LOCK_CLASS",
    "Observation",
    "Recorded",
    "Snapshot",
    "SnapshotKey",
    "SnapshotKind",
    "contract_for_trading",
    "current",
    "history",
    "jsonable",
    "record",
    "venue_snapshots",
]
"""The store, and the value types of ``snapshot_record`` it reads and writes (callers may name them
through either module)."""

LOCK_CLASS = 0x564E5553  # "VNUS": keeps these advisory locks apart from the audit log's

venue_snapshots = Table(
    "venue_snapshots",
    MetaData(schema="tradeplane"),
    Column("id", BigInteger, primary_key=True),
    *(Column(name, Text) for name in ("namespace", "venue", "kind", "subject")),
    Column("version", Integer),
    Column("fingerprint", Text),
    Column("raw", JSONB(none_as_null=True)),
    Column("normalised", JSONB(none_as_null=True)),
    Column("problem", Text),
    *(Column(name, DateTime(timezone=True)) for name in ("fetched_at", "confirmed_at", "valid_until")),
)
"""What the code reads and writes; DDL, privileges and the immutability trigger are migration 0003."""


def jsonable(value: Any) -> Any:
    """Decimals as exact strings (JSON numbers would pass through float somewhere), recursively."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _snapshot(key: SnapshotKey, row: Any) -> Snapshot:
    values = row._mapping
    return Snapshot(
        id=values["id"],
        key=key,
        version=values["version"],
        fingerprint=values["fingerprint"],
        normalised=values["normalised"],
        problem=values["problem"],
        fetched_at=values["fetched_at"],
        confirmed_at=values["confirmed_at"],
        valid_until=values["valid_until"],
    )


def _where(key: SnapshotKey) -> list[Any]:
    c = venue_snapshots.c
    return [c.namespace == key.namespace, c.venue == key.venue, c.kind == key.kind, c.subject == key.subject]


async def _latest(connection: AsyncConnection, key: SnapshotKey) -> Snapshot | None:
    query = select(venue_snapshots).where(*_where(key)).order_by(venue_snapshots.c.version.desc()).limit(1)
    row = (await connection.execute(query)).first()
    return None if row is None else _snapshot(key, row)


async def current(engine: AsyncEngine, key: SnapshotKey) -> Snapshot | None:
    """The newest version of a subject, valid or not."""
    async with engine.connect() as connection:
        return await _latest(connection, key)


async def history(engine: AsyncEngine, key: SnapshotKey) -> list[Snapshot]:
    """Every version of a subject, oldest first."""
    query = select(venue_snapshots).where(*_where(key)).order_by(venue_snapshots.c.version)
    async with engine.connect() as connection:
        return [_snapshot(key, row) for row in await connection.execute(query)]


async def record(
    engine: AsyncEngine, key: SnapshotKey, observation: Observation, *, now: datetime, max_age: timedelta
) -> Recorded:
    """Confirm the newest version when the content is the same, else store a new version."""
    valid_until = now + max_age
    async with engine.begin() as connection:
        await connection.execute(select(func.pg_advisory_xact_lock(LOCK_CLASS, func.hashtext(key.lock_id))))
        latest = await _latest(connection, key)
        if latest is not None and (latest.fingerprint, latest.problem) == observation.content:
            confirmed = max(now, latest.confirmed_at)
            row = (
                await connection.execute(
                    update(venue_snapshots)
                    .where(venue_snapshots.c.id == latest.id)
                    .values(confirmed_at=confirmed, valid_until=max(valid_until, latest.valid_until))
                    .returning(venue_snapshots)
                )
            ).one()
            return Recorded(current=_snapshot(key, row), replaced=None, created=False)
        row = (
            await connection.execute(
                insert(venue_snapshots)
                .values(
                    namespace=key.namespace,
                    venue=key.venue,
                    kind=key.kind,
                    subject=key.subject,
                    version=1 if latest is None else latest.version + 1,
                    fingerprint=observation.fingerprint,
                    raw=jsonable(observation.raw),
                    normalised=None if observation.normalised is None else jsonable(observation.normalised),
                    problem=observation.problem,
                    fetched_at=now,
                    confirmed_at=now,
                    valid_until=valid_until if observation.problem is None else now,
                )
                .returning(venue_snapshots)
            )
        ).one()
        return Recorded(current=_snapshot(key, row), replaced=latest, created=True)


async def contract_for_trading(
    engine: AsyncEngine, key: SnapshotKey, now: datetime, *, opening: bool
) -> ContractRecord:
    """The contract to quantize and check an order with, or ``TradingBlocked`` saying why not: the
    same ``tradability.judge`` of the same stored snapshot that the Instrument's status shows."""
    verdict = judge(await current(engine, key), now)
    if verdict.record is None or verdict.trading is Trading.BLOCKED:
        raise TradingBlocked(verdict.reason, verdict.message)
    if opening and verdict.trading is Trading.CLOSE_ONLY:
        raise TradingBlocked("SymbolCloseOnly", verdict.message)
    return verdict.record
