"""Baseline: the ``tradeplane`` schema and the ``tradeplane_app`` group role every plane builds on.

Roles are cluster-wide while migrations run per database (tests create one database per test), so
the role is created only when missing, tolerating a concurrent creator, and it is never dropped:
other databases may still hold grants to it. Default privileges apply to tables that the role
running the migrations creates later, which is the role that runs every later revision.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS tradeplane")
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tradeplane_app') THEN
                CREATE ROLE tradeplane_app NOLOGIN;
            END IF;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently elsewhere
        END
        $$
        """
    )
    op.execute("GRANT USAGE ON SCHEMA tradeplane TO tradeplane_app")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA tradeplane GRANT SELECT, INSERT ON TABLES TO tradeplane_app"
    )


def downgrade() -> None:
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'tradeplane_app')
               AND EXISTS (SELECT FROM pg_namespace WHERE nspname = 'tradeplane') THEN
                ALTER DEFAULT PRIVILEGES IN SCHEMA tradeplane
                    REVOKE SELECT, INSERT ON TABLES FROM tradeplane_app;
                REVOKE USAGE ON SCHEMA tradeplane FROM tradeplane_app;
            END IF;
        END
        $$
        """
    )
    # RESTRICT: later revisions drop their own tables; anything left here is a bug to surface.
    op.execute("DROP SCHEMA IF EXISTS tradeplane RESTRICT")
