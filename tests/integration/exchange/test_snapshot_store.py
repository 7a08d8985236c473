"""Metadata snapshots in a real PostgreSQL: versions, confirmations, invalid versions, immutability,
concurrent writers, and what the application role may change."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from harness.postgres import execute, fetch
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tradeplane.runtime.venue import snapshots
from tradeplane.runtime.venue.canonical import sha256_fingerprint
from tradeplane.runtime.venue.metadata import normalise_contract
from tradeplane.runtime.venue.sim.catalog import CATALOG
from tradeplane.runtime.venue.snapshot_record import Observation, SnapshotKey
from tradeplane.runtime.venue.snapshots import contract_for_trading
from tradeplane.runtime.venue.tradability import TradingBlocked, contract_document

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
KEY = SnapshotKey("trading", "bingx", "contract", "XAUT-USDT")
TABLE = "tradeplane.venue_snapshots"


def _valid(tick: str) -> Observation:
    normalised = {"tick_size": tick}
    raw = {"symbol": "XAUT-USDT", "pricePrecision": Decimal("2"), "makerFeeRate": Decimal("0.00020")}
    return Observation(raw=raw, normalised=normalised, fingerprint=sha256_fingerprint(normalised))


async def test_same_content_confirms_a_change_is_a_new_version(engine: AsyncEngine) -> None:
    first = await snapshots.record(engine, KEY, _valid("0.01"), now=T0, max_age=DAY)
    assert (first.created, first.current.version, first.replaced) == (True, 1, None)
    later = T0 + timedelta(hours=1)
    again = await snapshots.record(engine, KEY, _valid("0.01"), now=later, max_age=DAY)
    assert (again.created, again.current.version, again.current.id) == (False, 1, first.current.id)
    assert again.current.fetched_at == T0 and again.current.confirmed_at == later
    assert again.current.valid_until == later + DAY
    changed = await snapshots.record(engine, KEY, _valid("0.001"), now=later, max_age=DAY)
    assert (changed.created, changed.current.version) == (True, 2)
    assert changed.replaced is not None and changed.replaced.version == 1
    history = await snapshots.history(engine, KEY)
    assert [s.normalised for s in history] == [{"tick_size": "0.01"}, {"tick_size": "0.001"}]
    # raw decimals are kept exactly as spelled (no float, trailing zeros intact)
    assert history[0].normalised is not None
    assert fetch(await _url(engine), f"SELECT raw->>'makerFeeRate' FROM {TABLE} WHERE version = 1") == [
        ("0.00020",)
    ]


async def _url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def test_an_invalid_payload_is_its_own_version_and_never_valid(engine: AsyncEngine) -> None:
    await snapshots.record(engine, KEY, _valid("0.01"), now=T0, max_age=DAY)
    problem = Observation(raw={"pricePrecision": "abc"}, problem="pricePrecision: not an integer ('abc')")
    bad = await snapshots.record(engine, KEY, problem, now=T0 + timedelta(minutes=5), max_age=DAY)
    assert bad.created and bad.current.version == 2 and not bad.current.valid
    assert bad.current.stale(T0 + timedelta(minutes=6)), "an invalid version is never fresh"
    current = await snapshots.current(engine, KEY)
    assert current is not None and current.problem is not None and current.fingerprint is None
    healed = await snapshots.record(engine, KEY, _valid("0.01"), now=T0 + timedelta(minutes=10), max_age=DAY)
    assert healed.created and healed.current.version == 3 and healed.current.valid


async def test_subjects_are_versioned_independently(engine: AsyncEngine) -> None:
    other = SnapshotKey("trading", "bingx", "contract", "PAXG-USDT")
    await snapshots.record(engine, KEY, _valid("0.01"), now=T0, max_age=DAY)
    recorded = await snapshots.record(engine, other, _valid("0.01"), now=T0, max_age=DAY)
    assert recorded.current.version == 1
    assert await snapshots.current(engine, SnapshotKey("other-ns", "bingx", "contract", "XAUT-USDT")) is None


async def test_concurrent_writers_never_fork_a_version(engine: AsyncEngine) -> None:
    observations = [_valid("0.01") if i % 2 else _valid(f"0.{i:03d}") for i in range(12)]
    await asyncio.gather(*(snapshots.record(engine, KEY, o, now=T0, max_age=DAY) for o in observations))
    versions = [s.version for s in await snapshots.history(engine, KEY)]
    assert versions == list(range(1, len(versions) + 1))


async def test_content_is_immutable_even_for_the_owner(engine: AsyncEngine, migrated: str) -> None:
    await snapshots.record(engine, KEY, _valid("0.01"), now=T0, max_age=DAY)
    for statement in (
        f"UPDATE {TABLE} SET fingerprint = 'sha256:{'0' * 64}'",
        f"UPDATE {TABLE} SET normalised = '{{}}'::jsonb",
        f"UPDATE {TABLE} SET confirmed_at = confirmed_at - interval '1 hour'",
    ):
        with pytest.raises(DBAPIError, match="immutable"):
            execute(migrated, statement)


async def test_the_application_role_may_only_confirm(app_login: str) -> None:
    app = create_async_engine(app_login, poolclass=NullPool)
    try:
        await snapshots.record(app, KEY, _valid("0.01"), now=T0, max_age=DAY)
        confirmed = await snapshots.record(app, KEY, _valid("0.01"), now=T0 + DAY, max_age=DAY)
        assert confirmed.current.valid_until == T0 + 2 * DAY
        for statement in (f"DELETE FROM {TABLE}", f"UPDATE {TABLE} SET problem = 'x'", f"TRUNCATE {TABLE}"):
            with pytest.raises(DBAPIError, match="permission denied"):
                execute(app_login, statement)
    finally:
        await app.dispose()


def _contract(**overrides: object) -> Observation:
    record = normalise_contract({**CATALOG["XAUT-USDT"].contract, **overrides})
    document = contract_document(record, timedelta(hours=8))
    return Observation(
        raw=dict(CATALOG["XAUT-USDT"].contract), normalised=document, fingerprint=sha256_fingerprint(document)
    )


async def test_execution_gets_a_contract_only_from_fresh_valid_tradable_metadata(engine: AsyncEngine) -> None:
    with pytest.raises(TradingBlocked, match="MetadataMissing"):
        await contract_for_trading(engine, KEY, T0, opening=True)
    await snapshots.record(engine, KEY, _contract(), now=T0, max_age=DAY)
    record = await contract_for_trading(engine, KEY, T0 + timedelta(hours=1), opening=True)
    assert (record.tick_size, record.step_size) == (Decimal("0.01"), Decimal("0.0001"))
    with pytest.raises(TradingBlocked, match="MetadataStale"):
        await contract_for_trading(engine, KEY, T0 + DAY + timedelta(seconds=1), opening=False)

    await snapshots.record(engine, KEY, _contract(status=25), now=T0, max_age=DAY)
    with pytest.raises(TradingBlocked, match="SymbolCloseOnly"):
        await contract_for_trading(engine, KEY, T0, opening=True)
    assert await contract_for_trading(engine, KEY, T0, opening=False) == normalise_contract(
        {**CATALOG["XAUT-USDT"].contract, "status": 25}
    )

    problem = Observation(raw={}, problem="tradeMinUSDT: missing")
    await snapshots.record(engine, KEY, problem, now=T0, max_age=DAY)
    with pytest.raises(TradingBlocked, match="MetadataInvalid: snapshot v3: tradeMinUSDT"):
        await contract_for_trading(engine, KEY, T0, opening=False)
