"""The snapshot registry on a real PostgreSQL: idempotent registration, newest, retention with files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from integration.features_dataset import datasetkit as kit
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.features.snapshot import Snapshot
from tradeplane.runtime.features.snapshot_store import (
    latest_snapshot,
    list_snapshots,
    prune_snapshots,
    register_snapshot,
)

pytestmark = pytest.mark.integration


def exists(path: Path) -> bool:
    return path.exists()


async def snapshots(engine: AsyncEngine, directory: Path, count: int) -> list[Snapshot]:
    """``count`` distinct snapshots: the same start, ranges one hour longer each."""
    await kit.seed(engine)
    return [
        kit.build(await kit.load(engine, end=kit.START + timedelta(hours=hours)), directory)
        for hours in range(1, count + 1)
    ]


async def test_registration_is_idempotent_and_the_newest_is_the_last_registered(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    one, two = await snapshots(engine, tmp_path, 2)
    assert await latest_snapshot(engine, kit.NAMESPACE, kit.FEATURESET) is None
    first, created = await register_snapshot(engine, one, namespace=kit.NAMESPACE, featureset=kit.FEATURESET)
    assert created and first.hash == one.hash and first.rows == 60 and first.simulated and first.gap_free
    assert first.uri == one.path.resolve().as_uri() and first.manifest == one.manifest
    again, created = await register_snapshot(engine, one, namespace=kit.NAMESPACE, featureset=kit.FEATURESET)
    assert not created and again == first
    await register_snapshot(engine, two, namespace=kit.NAMESPACE, featureset=kit.FEATURESET)
    latest = await latest_snapshot(engine, kit.NAMESPACE, kit.FEATURESET)
    assert latest is not None and latest.hash == two.hash
    # re-registering an older snapshot does not make it the newest
    await register_snapshot(engine, one, namespace=kit.NAMESPACE, featureset=kit.FEATURESET)
    assert [r.hash for r in await list_snapshots(engine, kit.NAMESPACE, kit.FEATURESET)] == [
        two.hash,
        one.hash,
    ]
    status = latest.to_status()
    assert (status.hash, status.rows, status.start, status.end) == (two.hash, 120, kit.START, two.end)
    assert await latest_snapshot(engine, kit.NAMESPACE, "other") is None


async def test_prune_keeps_the_newest_n_and_deletes_only_unshared_files(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    made = await snapshots(engine, tmp_path, 4)
    for snapshot in made:
        await register_snapshot(engine, snapshot, namespace=kit.NAMESPACE, featureset=kit.FEATURESET)
    # another FeatureSet lists the oldest file too: pruning this one must not delete it
    await register_snapshot(engine, made[0], namespace=kit.NAMESPACE, featureset="twin")
    assert await prune_snapshots(engine, kit.NAMESPACE, kit.FEATURESET, keep=2) == [
        made[1].hash,
        made[0].hash,
    ]
    kept = await list_snapshots(engine, kit.NAMESPACE, kit.FEATURESET)
    assert [r.hash for r in kept] == [made[3].hash, made[2].hash]
    assert not exists(made[1].path) and not exists(made[1].manifest_path)
    assert exists(made[0].path) and exists(made[0].manifest_path)
    assert all(exists(s.path) and exists(s.manifest_path) for s in made[2:])
    assert await prune_snapshots(engine, kit.NAMESPACE, kit.FEATURESET, keep=2) == []
    assert await prune_snapshots(engine, kit.NAMESPACE, "twin", keep=1) == []
    with pytest.raises(ValueError, match="keep must be at least 1"):
        await prune_snapshots(engine, kit.NAMESPACE, kit.FEATURESET, keep=0)


async def test_the_table_refuses_a_production_snapshot_with_gaps(engine: AsyncEngine, tmp_path: Path) -> None:
    (snapshot,) = await snapshots(engine, tmp_path, 1)
    with pytest.raises(IntegrityError, match="feature_snapshots_check"):
        await kit.execute(
            engine,
            "INSERT INTO tradeplane.feature_snapshots (namespace, featureset, hash, market, symbol,"
            " fingerprint, mode, rows, range_start, range_end, uri, manifest, gap_free, simulated)"
            " VALUES ('n', 'f', :h, 'm', 's', :f, 'production', 1, :a, :b, 'file:///x', '{}', false, true)",
            h=snapshot.hash,
            f=snapshot.fingerprint,
            a=kit.START,
            b=kit.END,
        )
