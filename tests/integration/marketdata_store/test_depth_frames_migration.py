"""Revision 0006 turns stored jsonb levels into frames the reader parses, and back, losing nothing;
and the cheaper payload-hash checks still refuse what the regular expressions refused."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from harness.postgres import execute, fetch

from tradeplane.runtime.marketdata.depth_book import stored_levels
from tradeplane.runtime.marketdata.store_reads import depth_book
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.store import migrate
from tradeplane.runtime.store.engine import create_engine

pytestmark = pytest.mark.integration

BEFORE = "0005_feature_snapshots"
KEY = MarketKey("prod/bingx", "XAUT-USDT")
HASH = hashlib.sha256(b"frame").hexdigest()
ROWS = [  # (update_id, action, bids, asks, millisecond offset)
    (100, "all", '[["2650.10","1.500"],["2650.00","2"]]', '[["2650.20","3"]]', 0),
    (101, "update", '[["2650.10","0"]]', "[]", 250),
]


def _insert_jsonb_rows(url: str) -> None:
    for update_id, action, bids, asks, offset in ROWS:
        execute(
            url,
            "INSERT INTO tradeplane.market_depth_updates (market, symbol, exchange_time, update_id, action,"
            " bids, asks, received_at, connection_id, payload_hash) VALUES ('prod/bingx', 'XAUT-USDT',"
            f" timestamptz '2026-11-24T00:00:00Z' + interval '{offset} ms', {update_id}, '{action}',"
            f" '{bids}', '{asks}', '2026-11-24T00:00:01Z', 'c', '{HASH}')",
        )


async def test_jsonb_levels_become_readable_frames_and_come_back(database_url: str) -> None:
    migrate.upgrade(database_url, BEFORE)
    _insert_jsonb_rows(database_url)
    before = fetch(
        database_url, "SELECT update_id, bids::text, asks::text FROM tradeplane.market_depth_updates"
    )

    migrate.upgrade(database_url)

    frames = fetch(database_url, "SELECT frame FROM tradeplane.market_depth_updates ORDER BY update_id")
    assert [stored_levels(frame) for (frame,) in frames] == [
        ([("2650.10", "1.500"), ("2650.00", "2")], [("2650.20", "3")]),
        ([("2650.10", "0")], []),
    ]
    engine = create_engine(database_url)
    try:
        [(latest,)] = fetch(database_url, "SELECT max(exchange_time) FROM tradeplane.market_depth_updates")
        book = await depth_book(engine, KEY, latest)
    finally:
        await engine.dispose()
    assert (book.last_update_id, book.bids, book.asks) == (
        101,
        {Decimal("2650.00"): Decimal("2")},
        {Decimal("2650.20"): Decimal("3")},
    ), "the migrated rows replay into a book"

    migrate.downgrade(database_url, BEFORE)
    assert (
        fetch(database_url, "SELECT update_id, bids::text, asks::text FROM tradeplane.market_depth_updates")
        == before
    )


@pytest.mark.parametrize(
    ("digest", "refusal"),
    [("ab" * 31, "check constraint"), ("AB" * 32, "check constraint"), ("zz" * 32, "hexadecimal")],
)
def test_a_malformed_payload_hash_is_refused(database_url: str, digest: str, refusal: str) -> None:
    migrate.upgrade(database_url)
    with pytest.raises(Exception, match=refusal):
        execute(
            database_url,
            "INSERT INTO tradeplane.market_raw_journal (market, symbol, connection_id, received_at,"
            " data_type, payload_sha256, payload)"
            f" VALUES ('m', 's', 'c', now(), 't', '{digest}', 'x'::bytea)",
        )
