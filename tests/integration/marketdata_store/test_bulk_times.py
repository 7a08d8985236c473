"""Times in the bulk statements travel as microseconds since the epoch and are turned back into
``timestamptz`` by the server: every microsecond, any offset, far past and far future, survives the
round trip exactly, and a naive time is refused before anything is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from harness.postgres import fetch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from integration.marketdata_store.builders import KEY, provenance
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata import store
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.store_bulk import micros

pytestmark = pytest.mark.integration

TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(UTC)
).flatmap(
    lambda moment: st.sampled_from([moment, moment.astimezone(timezone(timedelta(hours=-7, minutes=-30)))])
)


def test_micros_counts_from_the_epoch_and_refuses_naive_times() -> None:
    assert micros(datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC), "t") == 1
    assert micros(datetime(2026, 1, 1, tzinfo=UTC), "t") == 1_767_225_600_000_000
    with pytest.raises(ValueError, match="t must be timezone-aware"):
        micros(datetime(2026, 1, 1), "t")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(times=st.lists(TIMES, min_size=1, max_size=40, unique_by=lambda moment: moment.astimezone(UTC)))
async def test_every_time_survives_the_bulk_round_trip(engine: AsyncEngine, times: list[datetime]) -> None:
    received = provenance("ws")
    async with PlainWriter(engine).transaction() as connection:
        await connection.exec_driver_sql("DELETE FROM tradeplane.market_mark_prices")
        rows = [(moment, Decimal(n + 1), received) for n, moment in enumerate(times)]
        await store.upsert_mark_prices_from(connection, KEY, "ws", rows)
    url = engine.url.render_as_string(hide_password=False)
    stored = fetch(url, "SELECT time, price, received_at FROM tradeplane.market_mark_prices ORDER BY price")
    assert stored == [(moment, Decimal(n + 1), received.received_at) for n, moment in enumerate(times)]


async def test_a_naive_time_is_refused_before_anything_is_written(engine: AsyncEngine) -> None:
    naive = datetime(2026, 1, 1)
    async with PlainWriter(engine).transaction() as connection:
        with pytest.raises(ValueError, match="time must be timezone-aware"):
            await store.upsert_mark_prices_from(
                connection, KEY, "ws", [(naive, Decimal(1), provenance("ws"))]
            )
