"""Registering dataset snapshots, finding the newest, and pruning old ones with their files.

Why a registry beside the files: the FeatureSet's status and the trainer need "the newest snapshot
of this FeatureSet" without listing directories, and retention must delete exactly what it no
longer lists. Registration is idempotent on (FeatureSet, hash): a Job that is retried after writing
but before reporting registers nothing new. Files are shared by content, so a file is deleted only
when no FeatureSet lists its hash any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.crds.featureset import DatasetSnapshot
from tradeplane.runtime.features.snapshot import Snapshot
from tradeplane.runtime.features.snapshot_tables import feature_snapshots


@dataclass(frozen=True)
class Registered:
    """One row of ``feature_snapshots``."""

    namespace: str
    featureset: str
    hash: str
    seq: int
    market: str
    symbol: str
    fingerprint: str
    mode: str
    rows: int
    start: datetime
    end: datetime
    uri: str
    manifest: dict[str, Any]
    gap_free: bool
    simulated: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> Registered:
        values = row._mapping
        return cls(
            **{
                name: values[name]
                for name in (
                    "namespace",
                    "featureset",
                    "hash",
                    "seq",
                    "market",
                    "symbol",
                    "fingerprint",
                    "mode",
                    "rows",
                    "uri",
                    "gap_free",
                    "simulated",
                    "created_at",
                )
            },
            start=values["range_start"],
            end=values["range_end"],
            manifest=dict(values["manifest"]),
        )

    def to_status(self) -> DatasetSnapshot:
        """What ``FeatureSet.status.latestSnapshot`` shows."""
        return DatasetSnapshot(
            hash=self.hash,
            rows=self.rows,
            start=self.start,
            end=self.end,
            uri=self.uri,
            created_time=self.created_at,
            gap_free=self.gap_free,
        )


def _where(namespace: str, featureset: str) -> list[Any]:
    c = feature_snapshots.c
    return [c.namespace == namespace, c.featureset == featureset]


async def register_snapshot(
    engine: AsyncEngine, snapshot: Snapshot, *, namespace: str, featureset: str
) -> tuple[Registered, bool]:
    """The row for ``snapshot`` under the FeatureSet, and whether this call created it."""
    instrument = snapshot.manifest["instrument"]
    statement = (
        pg_insert(feature_snapshots)
        .values(
            namespace=namespace,
            featureset=featureset,
            hash=snapshot.hash,
            market=instrument["market"],
            symbol=instrument["symbol"],
            fingerprint=snapshot.fingerprint,
            mode=snapshot.mode,
            rows=snapshot.rows,
            range_start=snapshot.start,
            range_end=snapshot.end,
            uri=snapshot.uri,
            manifest=snapshot.manifest,
            gap_free=snapshot.gap_free,
            simulated=snapshot.simulated,
            created_at=func.now(),
        )
        .on_conflict_do_nothing(index_elements=["namespace", "featureset", "hash"])
        .returning(*feature_snapshots.c)
    )
    async with engine.begin() as conn:
        row = (await conn.execute(statement)).one_or_none()
        if row is not None:
            return Registered.of(row), True
        query = select(feature_snapshots).where(
            *_where(namespace, featureset), feature_snapshots.c.hash == snapshot.hash
        )
        return Registered.of((await conn.execute(query)).one()), False


async def list_snapshots(engine: AsyncEngine, namespace: str, featureset: str) -> list[Registered]:
    """The FeatureSet's snapshots, newest (last registered) first."""
    query = (
        select(feature_snapshots)
        .where(*_where(namespace, featureset))
        .order_by(feature_snapshots.c.seq.desc())
    )
    async with engine.connect() as conn:
        return [Registered.of(row) for row in await conn.execute(query)]


async def count_snapshots(engine: AsyncEngine, namespace: str, featureset: str) -> int:
    """How many snapshots the registry holds for the FeatureSet (``status.snapshots``)."""
    query = select(func.count()).where(*_where(namespace, featureset))
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def latest_snapshot(engine: AsyncEngine, namespace: str, featureset: str) -> Registered | None:
    """The last snapshot registered for the FeatureSet (a re-registration does not make one newer)."""
    query = (
        select(feature_snapshots)
        .where(*_where(namespace, featureset))
        .order_by(feature_snapshots.c.seq.desc())
        .limit(1)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    return None if row is None else Registered.of(row)


async def prune_snapshots(engine: AsyncEngine, namespace: str, featureset: str, *, keep: int) -> list[str]:
    """Keep the newest ``keep`` snapshots of the FeatureSet; return the hashes removed (newest first).

    Rows are deleted first, files after the commit: a crash in between leaves an unlisted file (found
    by its name), never a listed snapshot whose file is gone.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    c = feature_snapshots.c
    newest = select(c.seq).where(*_where(namespace, featureset)).order_by(c.seq.desc()).limit(keep).subquery()
    cutoff = select(func.min(newest.c.seq)).scalar_subquery()
    statement = (
        delete(feature_snapshots)
        .where(*_where(namespace, featureset), c.seq < cutoff)
        .returning(c.hash, c.uri, c.seq)
    )
    async with engine.begin() as conn:
        removed = sorted(await conn.execute(statement), key=lambda row: row.seq, reverse=True)
        hashes = [row.hash for row in removed]
        still = select(c.hash).where(c.hash.in_(hashes)).distinct()
        shared = {row.hash for row in await conn.execute(still)} if hashes else set()
    for row in removed:
        if row.hash not in shared:
            _delete_files(row.uri)
    return hashes


def _delete_files(uri: str) -> None:
    """The Parquet file and its manifest beside it; only ``file://`` URIs are ours to delete."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return
    path = Path(unquote(parts.path))
    for victim in (path, path.with_name(path.name.removesuffix(".parquet") + ".manifest.json")):
        victim.unlink(missing_ok=True)
