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
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

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

SnapshotKind = Literal["contract", "commission", "margin_tiers"]
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

    @property
    def changed(self) -> bool:
        return self.created


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
