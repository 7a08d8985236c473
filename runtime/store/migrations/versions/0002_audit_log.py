"""The audit log: append-only, one hash chain per object uid (see ``tradeplane.runtime.audit``).

Two layers keep it append-only. Privileges: ``tradeplane_app`` (and PUBLIC) may SELECT and
INSERT, never UPDATE, DELETE or TRUNCATE. A trigger: UPDATE, DELETE and TRUNCATE raise for every
role, the table owner included, unless the session is a superuser *and* has set
``tradeplane.audit_rewrite = 'on'``; that makes a rewrite a deliberate act (the tests use it to
prove that tampering is detected). A superuser or the owner can still drop the trigger; that is
what the hash chain and its anchors in Kubernetes are for.

The chain head lock uses an advisory lock rather than ``SELECT ... FOR UPDATE``, because FOR
UPDATE needs the UPDATE privilege the application role must not have.

Revision ID: 0002_audit_log
Revises: 0001_baseline
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_audit_log"
down_revision: str | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HEX64 = "'^[0-9a-f]{64}$'"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE tradeplane.audit_log (
            id               bigserial PRIMARY KEY,
            object_kind      text        NOT NULL,
            object_namespace text        NOT NULL,
            object_name      text        NOT NULL,
            object_uid       text        NOT NULL,
            seq              integer     NOT NULL CHECK (seq >= 1),
            prev_hash        text        NOT NULL CHECK (prev_hash ~ {_HEX64}),
            hash             text        NOT NULL CHECK (hash ~ {_HEX64}),
            recorded_at      timestamptz NOT NULL,
            actor            text        NOT NULL,
            generation       bigint      NOT NULL,
            from_state       text        NOT NULL,
            to_state         text        NOT NULL,
            reason           text        NOT NULL,
            message          text        NOT NULL DEFAULT '',
            evidence         jsonb       NOT NULL DEFAULT '{{}}'::jsonb
                             CHECK (jsonb_typeof(evidence) = 'object'),
            idempotency_key  text        NOT NULL,
            CONSTRAINT audit_log_uid_seq_key UNIQUE (object_uid, seq),
            CONSTRAINT audit_log_uid_idempotency_key UNIQUE (object_uid, idempotency_key)
        )
        """
    )
    op.execute(
        "CREATE INDEX audit_log_object_idx "
        "ON tradeplane.audit_log (object_kind, object_namespace, object_name, seq)"
    )
    op.execute("CREATE INDEX audit_log_namespace_idx ON tradeplane.audit_log (object_namespace, object_kind)")
    op.execute(
        "COMMENT ON TABLE tradeplane.audit_log IS "
        "'Append-only hash-chained audit trail; verify with: tradeplane audit verify'"
    )

    op.execute("REVOKE ALL ON tradeplane.audit_log FROM PUBLIC")
    op.execute("REVOKE ALL ON tradeplane.audit_log FROM tradeplane_app")
    op.execute("GRANT SELECT, INSERT ON tradeplane.audit_log TO tradeplane_app")
    op.execute("REVOKE ALL ON SEQUENCE tradeplane.audit_log_id_seq FROM PUBLIC")
    op.execute("GRANT USAGE ON SEQUENCE tradeplane.audit_log_id_seq TO tradeplane_app")

    op.execute(
        """
        CREATE FUNCTION tradeplane.audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('is_superuser') = 'on'
               AND coalesce(current_setting('tradeplane.audit_rewrite', true), '') = 'on' THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            RAISE EXCEPTION 'tradeplane.audit_log is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON tradeplane.audit_log "
        "FOR EACH ROW EXECUTE FUNCTION tradeplane.audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON tradeplane.audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION tradeplane.audit_log_append_only()"
    )


def downgrade() -> None:
    # DROP TABLE is not stopped by the triggers: removing the whole log is a schema change that
    # only the migrating role can make, and it is as visible as the migration itself.
    op.execute("DROP TABLE IF EXISTS tradeplane.audit_log")
    op.execute("DROP FUNCTION IF EXISTS tradeplane.audit_log_append_only()")
