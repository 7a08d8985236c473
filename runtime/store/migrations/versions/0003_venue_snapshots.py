"""Versioned exchange-metadata snapshots: contracts per symbol, account fees, margin tiers.

One row per version of one subject (a symbol's contract record, the account's commission rates,
a symbol's maintenance-margin tiers) of one Venue. A version's content (raw record, normalised
record, fingerprint, or the problem that made it invalid) is never rewritten; re-reading the same
content only moves ``confirmed_at`` and ``valid_until`` forward, and a trigger enforces exactly
that. Any change of content is a new version, so every decision can name the metadata it used.

Revision ID: 0003_venue_snapshots
Revises: 0002_audit_log
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_venue_snapshots"
down_revision: str | None = "0002_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE tradeplane.venue_snapshots (
            id            bigserial   PRIMARY KEY,
            namespace     text        NOT NULL,
            venue         text        NOT NULL,
            kind          text        NOT NULL
                          CHECK (kind IN ('contract', 'commission', 'margin_tiers')),
            subject       text        NOT NULL,
            version       integer     NOT NULL CHECK (version >= 1),
            fingerprint   text        CHECK (fingerprint ~ '^sha256:[0-9a-f]{64}$'),
            raw           jsonb,
            normalised    jsonb,
            problem       text,
            fetched_at    timestamptz NOT NULL,
            confirmed_at  timestamptz NOT NULL,
            valid_until   timestamptz NOT NULL,
            CONSTRAINT venue_snapshots_version_key UNIQUE (namespace, venue, kind, subject, version),
            CONSTRAINT venue_snapshots_valid_or_problem CHECK (
                (problem IS NULL AND fingerprint IS NOT NULL AND normalised IS NOT NULL)
                OR (problem IS NOT NULL AND fingerprint IS NULL AND normalised IS NULL)
            )
        )
        """
    )
    op.execute(
        "COMMENT ON TABLE tradeplane.venue_snapshots IS "
        "'Versioned exchange metadata; content immutable per version, validity window moves forward'"
    )
    op.execute(
        """
        CREATE FUNCTION tradeplane.venue_snapshots_content_immutable() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF (NEW.namespace, NEW.venue, NEW.kind, NEW.subject, NEW.version, NEW.fingerprint,
                NEW.raw, NEW.normalised, NEW.problem, NEW.fetched_at)
               IS DISTINCT FROM
               (OLD.namespace, OLD.venue, OLD.kind, OLD.subject, OLD.version, OLD.fingerprint,
                OLD.raw, OLD.normalised, OLD.problem, OLD.fetched_at)
               OR NEW.confirmed_at < OLD.confirmed_at THEN
                RAISE EXCEPTION 'tradeplane.venue_snapshots: a version''s content is immutable'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER venue_snapshots_immutable BEFORE UPDATE ON tradeplane.venue_snapshots "
        "FOR EACH ROW EXECUTE FUNCTION tradeplane.venue_snapshots_content_immutable()"
    )
    op.execute("REVOKE ALL ON tradeplane.venue_snapshots FROM PUBLIC")
    op.execute("GRANT SELECT, INSERT ON tradeplane.venue_snapshots TO tradeplane_app")
    op.execute("GRANT UPDATE (confirmed_at, valid_until) ON tradeplane.venue_snapshots TO tradeplane_app")
    op.execute("GRANT USAGE ON SEQUENCE tradeplane.venue_snapshots_id_seq TO tradeplane_app")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS tradeplane.venue_snapshots")
    op.execute("DROP FUNCTION IF EXISTS tradeplane.venue_snapshots_content_immutable()")
