"""Offline sync change feed, reversible merges, consent voids, custom fields and
import jobs.

Sync: a `changes` table filled by triggers on people, companies and
roles. Each row carries the writing transaction's id (xid8), so a reader can return only the
changes of transactions that have finished (xid < the snapshot's xmin) and never skip one
that commits out of start order.

Merges: `merges` keeps what a merge changed so it can be undone. The consent ledger stays
append-only: an undo appends `consent_voids` rows for the entries the merge copied.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_shared.migrations import app_role, tenant_table

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = {"people": "person", "companies": "company", "person_company_roles": "role"}


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE changes (
            seq bigserial NOT NULL,
            xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            tenant_id varchar(64) NOT NULL,
            entity varchar(16) NOT NULL,
            entity_id uuid NOT NULL,
            op varchar(8) NOT NULL,
            CONSTRAINT pk_changes PRIMARY KEY (seq)
        )
        """
    )
    op.execute("CREATE INDEX ix_changes_tenant_xid_seq ON changes (tenant_id, xid, seq)")
    tenant_table("changes", "SELECT, INSERT")
    op.execute(f'GRANT USAGE ON SEQUENCE changes_seq_seq TO "{app_role()}"')
    # One trigger function for every tracked table: the entity name is the trigger argument.
    # A soft-deleted row (deleted_at set) is a tombstone like a hard DELETE.
    op.execute(
        """
        CREATE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            row_data jsonb;
            change_op text;
        BEGIN
            IF TG_OP = 'DELETE' THEN
                row_data := to_jsonb(OLD);
                change_op := 'delete';
            ELSE
                row_data := to_jsonb(NEW);
                IF row_data ? 'deleted_at' AND row_data->>'deleted_at' IS NOT NULL THEN
                    change_op := 'delete';
                ELSE
                    change_op := 'upsert';
                END IF;
            END IF;
            INSERT INTO changes (tenant_id, entity, entity_id, op)
            VALUES (row_data->>'tenant_id', TG_ARGV[0], (row_data->>'id')::uuid, change_op);
            RETURN NULL;
        END
        $$
        """
    )
    for table, entity in TRACKED.items():
        op.execute(
            f"CREATE TRIGGER {table}_changes AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION record_change('{entity}')"
        )
    op.create_table(
        "merges",
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("merged_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("undo", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["survivor_id"], ["people.id"], name=op.f("fk_merges_survivor_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merges")),
    )
    op.create_index(op.f("ix_merges_tenant_id"), "merges", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_merges_survivor_id"), "merges", ["survivor_id"], unique=False)
    op.create_table(
        "consent_voids",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("merge_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["consent_ledger.id"],
            name=op.f("fk_consent_voids_entry_id_consent_ledger"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_voids")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_consent_voids_entry_id")),
    )
    op.create_index(
        op.f("ix_consent_voids_tenant_id"), "consent_voids", ["tenant_id"], unique=False
    )
    op.create_table(
        "custom_fields",
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("options", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("default", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_fields")),
        sa.UniqueConstraint(
            "tenant_id", "entity", "key", name=op.f("uq_custom_fields_tenant_id_entity_key")
        ),
    )
    op.create_index(
        op.f("ix_custom_fields_tenant_id"), "custom_fields", ["tenant_id"], unique=False
    )
    tenant_table("custom_fields")
    op.create_table(
        "import_jobs",
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("match_on", sa.String(length=16), nullable=False),
        sa.Column("mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(op.f("ix_import_jobs_tenant_id"), "import_jobs", ["tenant_id"], unique=False)
    op.create_table(
        "import_errors",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_errors_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_errors")),
    )
    op.create_index(op.f("ix_import_errors_job_id"), "import_errors", ["job_id"], unique=False)
    op.create_index(
        op.f("ix_import_errors_tenant_id"), "import_errors", ["tenant_id"], unique=False
    )
    tenant_table("import_jobs")
    tenant_table("import_errors")
    tenant_table("merges")
    tenant_table("consent_voids", "SELECT, INSERT")


def downgrade() -> None:
    op.drop_table("import_errors")
    op.drop_table("import_jobs")
    op.drop_table("custom_fields")
    op.drop_table("consent_voids")
    op.drop_table("merges")
    for table in TRACKED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changes ON {table}")
    op.execute("DROP FUNCTION IF EXISTS record_change()")
    op.execute("DROP TABLE IF EXISTS changes")
