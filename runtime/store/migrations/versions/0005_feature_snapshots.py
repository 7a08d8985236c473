"""Dataset snapshots of FeatureSets: one row per (FeatureSet, Parquet content hash).

The key is (namespace, featureset, hash) rather than the hash alone: two FeatureSets with the same
contract over the same instrument and range produce the same bytes, and each must still see the
snapshot as its own (and keep it through the other's pruning). ``seq`` orders snapshots by
registration, so "the newest N" never depends on two clock readings being distinct. A production
snapshot is gap-free by construction; the check makes that a database fact too.

Revision ID: 0005_feature_snapshots
Revises: 0004_market_data
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_feature_snapshots"
down_revision: str | None = "0004_market_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHA = "~ '^sha256:[0-9a-f]{64}$'"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE tradeplane.feature_snapshots (
            namespace    text        NOT NULL,
            featureset   text        NOT NULL,
            hash         text        NOT NULL CHECK (hash {_SHA}),
            seq          bigserial   NOT NULL UNIQUE,
            market       text        NOT NULL,
            symbol       text        NOT NULL,
            fingerprint  text        NOT NULL CHECK (fingerprint {_SHA}),
            mode         text        NOT NULL CHECK (mode IN ('production', 'research')),
            rows         bigint      NOT NULL CHECK (rows >= 0),
            range_start  timestamptz NOT NULL,
            range_end    timestamptz NOT NULL CHECK (range_end > range_start),
            uri          text        NOT NULL,
            manifest     jsonb       NOT NULL,
            gap_free     boolean     NOT NULL,
            simulated    boolean     NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            CHECK (mode <> 'production' OR gap_free),
            PRIMARY KEY (namespace, featureset, hash)
        )
        """
    )
    op.execute(
        "CREATE INDEX feature_snapshots_newest_idx "
        "ON tradeplane.feature_snapshots (namespace, featureset, seq)"
    )
    op.execute("CREATE INDEX feature_snapshots_hash_idx ON tradeplane.feature_snapshots (hash)")
    op.execute("REVOKE ALL ON tradeplane.feature_snapshots FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT, DELETE ON tradeplane.feature_snapshots TO tradeplane_app")
    op.execute("GRANT USAGE ON SEQUENCE tradeplane.feature_snapshots_seq_seq TO tradeplane_app")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS tradeplane.feature_snapshots")
