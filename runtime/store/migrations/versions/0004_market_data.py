"""Market data: candles (and their revisions), mark-price candles, trades, incrDepth updates, mark
prices, funding rates, gap events, ingest leases and the raw frame journal.

Every table is keyed by its natural key (market, symbol, interval or stream, exchange time or id),
so every write is an idempotent upsert and replaying an interval leaves the same rows. ``market``
names the Venue the data came from as ``<namespace>/<venue>``. Closed candles are never silently
overwritten: a changed confirmed candle is recorded in ``market_candle_revisions`` (append-only).
With TimescaleDB installed, the time-series tables become hypertables.

Revision ID: 0004_market_data
Revises: 0003_venue_snapshots
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_market_data"
down_revision: str | None = "0003_venue_snapshots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SOURCE = "CHECK (source IN ('ws', 'rest'))"
_HASH = "CHECK (payload_hash ~ '^[0-9a-f]{64}$')"

TABLES: dict[str, str] = {
    "market_candles": f"""
        market text NOT NULL, symbol text NOT NULL, interval text NOT NULL,
        open_time timestamptz NOT NULL,
        open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL, close numeric NOT NULL,
        volume numeric NOT NULL CHECK (volume >= 0),
        closed boolean NOT NULL, confirmed boolean NOT NULL,
        source text NOT NULL {_SOURCE}, exchange_time timestamptz, received_at timestamptz NOT NULL,
        connection_id text, payload_hash text NOT NULL {_HASH},
        CHECK (low <= high AND low <= open AND low <= close AND high >= open AND high >= close),
        CHECK (confirmed IS FALSE OR closed IS TRUE),
        PRIMARY KEY (market, symbol, interval, open_time)
    """,
    "market_candle_revisions": """
        id bigserial PRIMARY KEY,
        market text NOT NULL, symbol text NOT NULL, interval text NOT NULL, open_time timestamptz NOT NULL,
        revision integer NOT NULL CHECK (revision >= 1),
        previous jsonb NOT NULL, current jsonb NOT NULL, reason text NOT NULL,
        recorded_at timestamptz NOT NULL,
        UNIQUE (market, symbol, interval, open_time, revision)
    """,
    "market_mark_candles": f"""
        market text NOT NULL, symbol text NOT NULL, interval text NOT NULL,
        open_time timestamptz NOT NULL,
        open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL, close numeric NOT NULL,
        source text NOT NULL {_SOURCE}, received_at timestamptz NOT NULL,
        PRIMARY KEY (market, symbol, interval, open_time)
    """,
    "market_trades": f"""
        market text NOT NULL, symbol text NOT NULL, time timestamptz NOT NULL, trade_key text NOT NULL,
        trade_id bigint, price numeric NOT NULL CHECK (price > 0),
        quantity numeric NOT NULL CHECK (quantity > 0),
        buyer_is_maker boolean NOT NULL,
        source text NOT NULL {_SOURCE}, received_at timestamptz NOT NULL, connection_id text,
        payload_hash text NOT NULL {_HASH},
        PRIMARY KEY (market, symbol, time, trade_key)
    """,
    "market_depth_updates": f"""
        market text NOT NULL, symbol text NOT NULL, exchange_time timestamptz NOT NULL,
        update_id bigint NOT NULL, action text NOT NULL CHECK (action IN ('all', 'update')),
        bids jsonb NOT NULL, asks jsonb NOT NULL,
        received_at timestamptz NOT NULL, connection_id text, payload_hash text NOT NULL {_HASH},
        PRIMARY KEY (market, symbol, exchange_time, update_id)
    """,
    "market_mark_prices": f"""
        market text NOT NULL, symbol text NOT NULL, time timestamptz NOT NULL,
        price numeric NOT NULL CHECK (price > 0),
        source text NOT NULL {_SOURCE}, received_at timestamptz NOT NULL,
        PRIMARY KEY (market, symbol, time)
    """,
    "market_funding_rates": f"""
        market text NOT NULL, symbol text NOT NULL, funding_time timestamptz NOT NULL,
        rate numeric NOT NULL, source text NOT NULL {_SOURCE}, received_at timestamptz NOT NULL,
        PRIMARY KEY (market, symbol, funding_time)
    """,
    "market_gap_events": """
        id bigserial PRIMARY KEY,
        market text NOT NULL, symbol text NOT NULL,
        stream text NOT NULL CHECK (stream IN ('klines', 'trades', 'depth', 'markPrice', 'funding')),
        interval text NOT NULL DEFAULT '',
        source text NOT NULL CHECK (source IN ('ws', 'rest', 'scan')),
        start_time timestamptz NOT NULL, end_time timestamptz NOT NULL CHECK (end_time >= start_time),
        missing integer NOT NULL CHECK (missing >= 0),
        detected_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
        state text NOT NULL CHECK (state IN ('open', 'healing', 'healed', 'unhealable')),
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        evidence jsonb NOT NULL DEFAULT '{}'::jsonb,
        UNIQUE (market, symbol, stream, interval, start_time, end_time)
    """,
    "market_leases": """
        market text NOT NULL, symbol text NOT NULL,
        holder text NOT NULL, token bigint NOT NULL CHECK (token >= 1),
        acquired_at timestamptz NOT NULL, renewed_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
        PRIMARY KEY (market, symbol)
    """,
    "market_raw_journal": """
        id bigserial PRIMARY KEY,
        market text NOT NULL, symbol text NOT NULL, connection_id text NOT NULL,
        received_at timestamptz NOT NULL, data_type text NOT NULL, exchange_time timestamptz,
        payload_sha256 text NOT NULL CHECK (payload_sha256 ~ '^[0-9a-f]{64}$'),
        payload bytea NOT NULL, note text NOT NULL DEFAULT ''
    """,
}

APPEND_ONLY = ("market_candle_revisions",)
HYPERTABLES = {
    "market_candles": "open_time",
    "market_mark_candles": "open_time",
    "market_trades": "time",
    "market_depth_updates": "exchange_time",
    "market_mark_prices": "time",
}
INDEXES = (
    "CREATE INDEX market_gap_events_state_idx ON tradeplane.market_gap_events (market, symbol, state)",
    "CREATE INDEX market_raw_journal_time_idx ON tradeplane.market_raw_journal (market, symbol, received_at)",
    "CREATE INDEX market_candle_revisions_key_idx "
    "ON tradeplane.market_candle_revisions (market, symbol, interval, open_time)",
)


def upgrade() -> None:
    for name, columns in TABLES.items():
        op.execute(f"CREATE TABLE tradeplane.{name} ({columns})")
        op.execute(f"REVOKE ALL ON tradeplane.{name} FROM PUBLIC")
        privileges = "SELECT, INSERT" if name in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        op.execute(f"GRANT {privileges} ON tradeplane.{name} TO tradeplane_app")
    for name in ("market_candle_revisions", "market_gap_events", "market_raw_journal"):
        op.execute(f"GRANT USAGE ON SEQUENCE tradeplane.{name}_id_seq TO tradeplane_app")
    for statement in INDEXES:
        op.execute(statement)
    hypertables = "; ".join(
        f"PERFORM create_hypertable('tradeplane.{table}', '{column}', migrate_data => true)"
        for table, column in HYPERTABLES.items()
    )
    timescale = "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
    op.execute(f"DO $$ BEGIN IF EXISTS ({timescale}) THEN {hypertables}; END IF; END $$")


def downgrade() -> None:
    for name in reversed(list(TABLES)):
        op.execute(f"DROP TABLE IF EXISTS tradeplane.{name}")
