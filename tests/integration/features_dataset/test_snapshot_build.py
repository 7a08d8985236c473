"""Dataset snapshots built from a real PostgreSQL: determinism, completeness, labels, bad rows.

Expectations come from the rows the kit wrote (Decimal prices, the bar grid), never from what the
builder reports about itself.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from integration.features_dataset import datasetkit as kit
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.features.inputs import SourceQuarantine
from tradeplane.runtime.features.snapshot import (
    DatasetIncomplete,
    SourceLabel,
    is_production_endpoint,
)
from tradeplane.runtime.marketdata import store
from tradeplane.runtime.marketdata.gaps import record_gap
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.millis import from_ms

pytestmark = pytest.mark.integration

ROWS = 360  # six hours of 1m bars


async def test_same_inputs_give_byte_identical_parquet_with_the_declared_layout(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    seeded = await kit.seed(engine)
    first = kit.build(await kit.load(engine), tmp_path / "a")
    second = kit.build(await kit.load(engine), tmp_path / "b")
    data = first.path.read_bytes()
    assert data == second.path.read_bytes()
    assert first.manifest_path.read_bytes() == second.manifest_path.read_bytes()
    assert first.hash == second.hash == "sha256:" + hashlib.sha256(data).hexdigest()
    assert first.path.name == f"{first.hash.removeprefix('sha256:')}.parquet"
    table = pq.read_table(first.path)
    assert table.schema.names == ["open_time", "close_time", *kit.plan().columns]
    assert table.schema.field("open_time").type == pa.timestamp("ms", tz="UTC")
    assert all(table.schema.field(name).type == pa.float64() for name in kit.plan().columns)
    assert table.schema.metadata[b"tradeplane.contract_fingerprint"] == kit.contract()[1].encode()
    assert table.num_rows == first.rows == ROWS
    opens = table.column("open_time").to_pylist()
    assert opens[0] == kit.START and opens[-1] == kit.END - kit.MINUTE
    # the warm-up was long enough: every requested row has every feature
    assert all(not math.isnan(v) for name in kit.plan().columns for v in table.column(name).to_pylist())
    # log return recomputed from the stored Decimal closes
    closes = {bar.open_time: bar.close for bar in seeded.bars}
    for row in (0, 1, 200, ROWS - 1):
        at = opens[row]
        expected = math.log(float(closes[at]) / float(closes[at - kit.MINUTE]))
        assert table.column("ret_1")[row].as_py() == pytest.approx(expected, rel=1e-12)
    manifest = first.manifest
    assert manifest["gaps"] == {"gapFree": True, "missing": [], "events": [], "missingData": []}
    assert manifest["range"]["start"] == "2026-01-05T08:00:00.000Z"
    assert manifest["contract"] == {"fingerprint": kit.contract()[1], "json": kit.contract()[0]}
    assert manifest["metadataSnapshots"] == {"contract": 7}
    base = manifest["sources"][0]
    assert (base["stream"], base["interval"], base["last"]) == ("klines", "1m", "2026-01-05T13:59:00.000Z")
    assert base["rows"] == ROWS + kit.plan().warmup and base["unconfirmed"] == 0


async def test_a_different_range_gives_a_different_hash(engine: AsyncEngine, tmp_path: Path) -> None:
    await kit.seed(engine)
    full = kit.build(await kit.load(engine), tmp_path)
    shorter = kit.build(await kit.load(engine, end=kit.END - kit.MINUTE), tmp_path)
    assert shorter.hash != full.hash and shorter.rows == ROWS - 1
    assert kit.listing(tmp_path) == sorted(
        name for s in (full, shorter) for name in (s.path.name, s.manifest_path.name)
    )


async def test_production_refuses_a_missing_bar_and_writes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await kit.seed(engine)
    hole = kit.START + 90 * kit.MINUTE
    await kit.delete_bar(engine, hole)
    loaded = await kit.load(engine)
    with pytest.raises(DatasetIncomplete) as caught:
        kit.build(loaded, tmp_path / "out")
    assert caught.value.problems == [
        "klines/1m 2026-01-05T09:30:00.000Z..2026-01-05T09:30:00.000Z: 1 missing"
    ]
    assert "klines/1m 2026-01-05T09:30:00.000Z" in str(caught.value)
    assert not (tmp_path / "out").exists()


async def test_research_writes_the_gappy_range_and_says_so(engine: AsyncEngine, tmp_path: Path) -> None:
    await kit.seed(engine)
    await kit.delete_bar(engine, kit.START + 90 * kit.MINUTE)
    await kit.delete_bar(engine, kit.START + 91 * kit.MINUTE)
    snapshot = kit.build(await kit.load(engine), tmp_path, mode="research")
    assert snapshot.path.is_file() and snapshot.rows == ROWS - 2 and not snapshot.gap_free
    gaps = snapshot.manifest["gaps"]
    assert gaps["gapFree"] is False
    assert gaps["missing"] == [
        {
            "stream": "klines",
            "interval": "1m",
            "start": "2026-01-05T09:30:00.000Z",
            "end": "2026-01-05T09:31:00.000Z",
            "missing": 2,
        }
    ]
    assert snapshot.manifest["mode"] == "research"


async def test_unresolved_gap_events_fail_production_and_healed_ones_are_listed(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await kit.seed(engine)
    async with PlainWriter(engine).transaction() as conn:
        for state_start, minutes in (
            (kit.START + timedelta(hours=1), 3),
            (kit.START + timedelta(hours=2), 2),
        ):
            await record_gap(
                conn,
                kit.KEY,
                stream="klines",
                interval="1m",
                source="ws",
                start=state_start,
                end=state_start + (minutes - 1) * kit.MINUTE,
                missing=minutes,
                now=kit.END,
            )
    await kit.execute(
        engine,
        "UPDATE tradeplane.market_gap_events SET state = 'healed' WHERE start_time = :t",
        t=kit.START + timedelta(hours=1),
    )
    with pytest.raises(DatasetIncomplete) as caught:
        kit.build(await kit.load(engine), tmp_path)
    (problem,) = caught.value.problems
    assert problem.startswith("klines/1m 2026-01-05T10:00:00.000Z..2026-01-05T10:01:00.000Z: 2 missing")
    assert problem.endswith(", open)")
    await kit.execute(engine, "UPDATE tradeplane.market_gap_events SET state = 'healed'")
    snapshot = kit.build(await kit.load(engine), tmp_path)
    assert snapshot.gap_free
    assert [(e["state"], e["start"]) for e in snapshot.manifest["gaps"]["events"]] == [
        ("healed", "2026-01-05T09:00:00.000Z"),
        ("healed", "2026-01-05T10:00:00.000Z"),
    ]


async def test_an_unresolved_gap_on_the_first_context_bar_read_fails_production(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The first 1h bar read opens before the warm-up's first 1m bar (it contains it): a gap event on it
    overlaps what was read, though its open time is before ``warmup_start``."""
    await kit.seed(engine)
    loaded = await kit.load(engine)
    first_context = loaded.inputs.context["1h"]
    opened = from_ms(int(first_context.open_time_ms[0]))
    assert opened < loaded.warmup_start
    async with PlainWriter(engine).transaction() as conn:
        await record_gap(
            conn,
            kit.KEY,
            stream="klines",
            interval="1h",
            source="ws",
            start=opened,
            end=opened,
            missing=1,
            now=kit.END,
        )
    with pytest.raises(DatasetIncomplete) as caught:
        kit.build(await kit.load(engine), tmp_path)
    (problem,) = caught.value.problems
    assert problem.startswith("klines/1h 2026-01-05T04:00:00.000Z..2026-01-05T04:00:00.000Z: 1 missing")


async def test_missing_funding_and_missing_context_bars_are_named(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await kit.seed(engine)
    await kit.execute(
        engine, "DELETE FROM tradeplane.market_funding_rates WHERE funding_time = :t", t=kit.START
    )
    await kit.delete_bar(engine, kit.START + timedelta(hours=2), interval="1h")
    with pytest.raises(DatasetIncomplete) as caught:
        kit.build(await kit.load(engine), tmp_path)
    assert caught.value.problems == [
        "klines/1h 2026-01-05T10:00:00.000Z..2026-01-05T10:00:00.000Z: 1 missing",
        "funding 2026-01-05T08:00:00.000Z..2026-01-05T08:00:00.000Z: 1 missing",
    ]
    await kit.execute(engine, "DELETE FROM tradeplane.market_funding_rates")
    loaded = await kit.load(engine, funding_schedule=None)
    assert loaded.missing_data == (
        "funding: no funding rate known at 2026-01-05T08:00:00.000Z (the first row)",
        "funding schedule: the contract snapshot states no funding interval",
    )


async def test_funding_read_without_a_calendar_is_missing_data(engine: AsyncEngine, tmp_path: Path) -> None:
    """Only the rate is read (no time-to-next column), yet without the calendar a settlement missing
    mid-range could not be seen: production refuses instead of checking the first row only."""
    await kit.seed(engine)
    loaded = await kit.load(engine, funding_schedule=None, need_schedule=False)
    assert loaded.missing_data == ("funding schedule: the contract snapshot states no funding interval",)
    with pytest.raises(DatasetIncomplete):
        kit.build(loaded, tmp_path)
    assert kit.listing(tmp_path) == []


async def test_unconfirmed_closed_bars_are_used_and_counted(engine: AsyncEngine, tmp_path: Path) -> None:
    seeded = await kit.seed(engine)
    at = kit.START + timedelta(minutes=5)
    unconfirmed = [
        bar._replace(confirmed=False) for bar in seeded.bars if at <= bar.open_time < at + 3 * kit.MINUTE
    ]
    await kit.execute(
        engine,
        "DELETE FROM tradeplane.market_candles WHERE interval = '1m' AND open_time >= :a AND open_time < :b",
        a=at,
        b=at + 3 * kit.MINUTE,
    )
    async with PlainWriter(engine).transaction() as conn:
        await store.upsert_candles(conn, kit.KEY, "1m", unconfirmed, kit.provenance())
    snapshot = kit.build(await kit.load(engine), tmp_path)
    assert snapshot.manifest["sources"][0]["unconfirmed"] == 3 and snapshot.rows == ROWS
    # a bar that is stored but not closed is not a bar yet: the range is missing it
    still_open = seeded.bars[-1]._replace(
        open_time=kit.START + timedelta(minutes=20), closed=False, confirmed=False
    )
    await kit.delete_bar(engine, still_open.open_time)
    async with PlainWriter(engine).transaction() as conn:
        await store.upsert_candles(conn, kit.KEY, "1m", [still_open], kit.provenance())
    with pytest.raises(DatasetIncomplete, match=r"klines/1m 2026-01-05T08:20:00.000Z\.\.\S+: 1 missing"):
        kit.build(await kit.load(engine), tmp_path)


async def test_a_non_positive_price_is_quarantined_not_zero_filled(engine: AsyncEngine) -> None:
    await kit.seed(engine)
    at = kit.START + timedelta(minutes=7)
    await kit.execute(
        engine,
        "UPDATE tradeplane.market_candles SET open = 0, low = 0 WHERE interval = '1m' AND open_time = :t",
        t=at,
    )
    with pytest.raises(SourceQuarantine) as caught:
        await kit.load(engine)
    (row,) = caught.value.rows
    assert (row.stream, row.reason) == ("bars", "non-positive price")
    assert row.time_ms == int((at + kit.MINUTE).timestamp() * 1000) - 1


def test_only_bingx_production_is_unsimulated() -> None:
    assert kit.SIMULATED.simulated and kit.SIMULATED.to_json()["restEndpoint"] == kit.SIM_REST
    for url in (
        "https://open-api.bingx.com",
        "https://OPEN-API.bingx.com/",
        "https://open-api.bingx.com:443",
    ):
        assert is_production_endpoint(url), url
        assert SourceLabel.of("prod/bingx", url).simulated is False
    for url in (
        "http://open-api.bingx.com",
        "https://open-api.bingx.com.evil",
        "https://open-api-vst.bingx.com",
    ):
        assert not is_production_endpoint(url), url


def test_decimal_prices_reach_the_matrix_correctly_rounded() -> None:
    """The one float conversion: float(Decimal) is the nearest double (no str round trip drift)."""
    assert float(Decimal("4123.07")) == 4123.07
