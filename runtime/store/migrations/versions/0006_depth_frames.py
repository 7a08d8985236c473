"""Depth updates keep the frame they came in; payload hashes are checked without a regular expression.

``market_depth_updates`` stored each push's levels as two ``jsonb`` documents: PostgreSQL parsed about
5 kB of level text per BTC push and then TOAST-compressed it, which was most of what the ingestor's
writes cost the server. A row now holds ``frame``: the WebSocket frame exactly as received (BingX's
gzip, ~1.2 kB for that push, written as it is; ``STORAGE EXTERNAL`` so an occasional large snapshot
is not run through pglz, which cannot shrink gzip). ``sha256(frame)`` is the row's ``payload_hash``.
Rows written before this revision get a reconstructed text frame
(``{"code":0,"dataType":"SYMBOL@incrDepth","data":{...}}``) holding the same levels, which the
reader parses like any text frame; their ``payload_hash`` still names the frame originally received.

The ``payload_hash ~ '^[0-9a-f]{64}$'`` checks cost about 4 us per row on the server, as much as the
rest of a journal insert; ``decode(..., 'hex')`` checks the same thing (64 lower-case hex digits) at
almost no cost. A non-hex digit now fails with ``invalid hexadecimal digit`` instead of a check
violation; either way the row is refused.

Revision ID: 0006_depth_frames
Revises: 0005_feature_snapshots
Create Date: 2026-11-25
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_depth_frames"
down_revision: str | None = "0005_feature_snapshots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEPTH = "tradeplane.market_depth_updates"
HASHED = {
    "market_candles": "payload_hash",
    "market_trades": "payload_hash",
    "market_depth_updates": "payload_hash",
    "market_raw_journal": "payload_sha256",
}
"""Table -> its sha256 hex column; the constraint PostgreSQL named ``<table>_<column>_check``."""


def _hex_check(column: str) -> str:
    return f"CHECK (octet_length(decode({column}, 'hex')) = 32 AND {column} = lower({column}))"


def _regex_check(column: str) -> str:
    return f"CHECK ({column} ~ '^[0-9a-f]{{64}}$')"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {DEPTH} ADD COLUMN frame bytea")
    op.execute(
        """UPDATE tradeplane.market_depth_updates SET frame = convert_to(json_build_object(
            'code', 0, 'dataType', symbol || '@incrDepth',
            'data', json_build_object(
                'action', action, 'lastUpdateId', update_id,
                'time', (extract(epoch FROM exchange_time) * 1000)::bigint,
                'bids', bids, 'asks', asks))::text, 'UTF8')"""
    )
    op.execute(
        f"ALTER TABLE {DEPTH} ALTER COLUMN frame SET NOT NULL, ALTER COLUMN frame SET STORAGE EXTERNAL"
    )
    op.execute(f"ALTER TABLE {DEPTH} DROP COLUMN bids, DROP COLUMN asks")
    _replace_checks(_hex_check)


def downgrade() -> None:
    _replace_checks(_regex_check)
    op.execute(f"ALTER TABLE {DEPTH} ADD COLUMN bids jsonb, ADD COLUMN asks jsonb")
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT market, symbol, exchange_time, update_id, frame FROM tradeplane.market_depth_updates")
    )
    update = sa.text(
        "UPDATE tradeplane.market_depth_updates SET bids = CAST(:bids AS jsonb), asks = CAST(:asks AS jsonb)"
        " WHERE market = :market AND symbol = :symbol AND exchange_time = :time AND update_id = :id"
    )
    for market, symbol, exchange_time, update_id, frame in rows.fetchall():
        data = _frame_data(bytes(frame))
        parameters = {"market": market, "symbol": symbol, "time": exchange_time, "id": update_id}
        connection.execute(update, {**parameters, "bids": data["bids"], "asks": data["asks"]})
    op.execute(f"ALTER TABLE {DEPTH} ALTER COLUMN bids SET NOT NULL, ALTER COLUMN asks SET NOT NULL")
    op.execute(f"ALTER TABLE {DEPTH} DROP COLUMN frame")


def _frame_data(frame: bytes) -> dict[str, str]:
    """The levels of a stored frame as JSON text, read without the application's code (a migration
    must keep working when that code changes)."""
    text = zlib.decompress(frame, wbits=31) if frame[:2] == b"\x1f\x8b" else frame
    data = json.loads(text)["data"]
    return {side: json.dumps(data.get(side, []), separators=(",", ":")) for side in ("bids", "asks")}


def _replace_checks(check: Callable[[str], str]) -> None:
    for table, column in HASHED.items():
        op.execute(f"ALTER TABLE tradeplane.{table} DROP CONSTRAINT {table}_{column}_check")
        op.execute(f"ALTER TABLE tradeplane.{table} ADD CONSTRAINT {table}_{column}_check {check(column)}")
