"""The venue simulator (manual clock, one symbol), a BingX client on it with fast retries, and a
migrated database with a plain writer: what every gap and backfill test runs against."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from integration.marketdata_gaps.gapkit import HISTORY_MINUTES, SYMBOL
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata.gaps import GapMetrics
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.rest import RetryPolicy
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    config = SimConfig(
        seed=7,
        api_key="k",
        api_secret="s",
        clock="manual",
        history_minutes=HISTORY_MINUTES,
        symbols=(SYMBOL,),
    )
    async with VenueSimulator(config) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: VenueSimulator) -> AsyncIterator[BingXClient]:
    async with BingXClient(
        sim.rest_url, retry=RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.002)
    ) as venue:
        yield venue


@pytest.fixture
def writer(engine: AsyncEngine) -> PlainWriter:
    return PlainWriter(engine)


@pytest.fixture
def metrics() -> GapMetrics:
    return GapMetrics(CollectorRegistry())
