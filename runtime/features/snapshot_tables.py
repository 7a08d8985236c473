"""``feature_snapshots`` as the code reads and writes it; DDL, checks and privileges are migration 0005.

A MetaData of its own (like ``venue_snapshots``), not the market-data one: the market-data schema
test reflects exactly that plane's tables, and dataset snapshots are the feature plane's.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

METADATA = MetaData(schema="tradeplane")

feature_snapshots = Table(
    "feature_snapshots",
    METADATA,
    Column("namespace", Text, primary_key=True),
    Column("featureset", Text, primary_key=True),
    Column("hash", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("market", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("range_start", DateTime(timezone=True), nullable=False),
    Column("range_end", DateTime(timezone=True), nullable=False),
    Column("uri", Text, nullable=False),
    Column("manifest", JSONB, nullable=False),
    Column("gap_free", Boolean, nullable=False),
    Column("simulated", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
