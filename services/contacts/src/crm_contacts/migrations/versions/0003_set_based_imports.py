"""Set-based imports: statement-level change-feed triggers, resumable import jobs.

The sync feed's triggers become statement-level with transition tables: one INSERT into
`changes` per statement instead of one per row (a bulk upsert of 10k people was 10k trigger
calls). Same rows, same transaction id, so the feed stays commit-ordered and complete.

Import jobs record where their last committed chunk ended (`byte_offset`, `rows_done`), and
`import_queue` holds the lease of the process running each unfinished job: a worker that
restarts picks up jobs whose lease expired and continues after their last chunk. The queue
holds ids and times only and is read across tenants, so it has no row-level security.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_shared.migrations import NEW_UUID7, grant_to_app

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = {"people": "person", "companies": "company", "person_company_roles": "role"}
SOFT_DELETED = {"people", "companies"}  # a row with deleted_at set is a tombstone

RECORD_CHANGES = """
CREATE FUNCTION record_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (tenant_id, entity, entity_id, op)
        SELECT tenant_id, TG_ARGV[0], id, 'delete' FROM old_rows;
    ELSIF TG_ARGV[1] = 'soft' THEN
        INSERT INTO changes (tenant_id, entity, entity_id, op)
        SELECT tenant_id, TG_ARGV[0], id,
               CASE WHEN deleted_at IS NULL THEN 'upsert' ELSE 'delete' END
        FROM new_rows;
    ELSE
        INSERT INTO changes (tenant_id, entity, entity_id, op)
        SELECT tenant_id, TG_ARGV[0], id, 'upsert' FROM new_rows;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(RECORD_CHANGES)
    for table, entity in TRACKED.items():
        op.execute(f"DROP TRIGGER {table}_changes ON {table}")
        kind = "soft" if table in SOFT_DELETED else "hard"
        for event, transition in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_changes_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {transition} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION record_changes('{entity}', '{kind}')"
            )
    op.execute("DROP FUNCTION record_change()")
    op.execute(NEW_UUID7)
    op.add_column(
        "import_jobs", sa.Column("byte_offset", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column(
        "import_jobs", sa.Column("chunks_done", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_table(
        "import_queue",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("lease_owner", sa.Uuid(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_import_queue")),
    )
    grant_to_app("import_queue", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("import_queue")
    op.drop_column("import_jobs", "chunks_done")
    op.drop_column("import_jobs", "byte_offset")
    op.execute("DROP FUNCTION new_uuid7()")
    op.execute(
        """
        CREATE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE row_data jsonb; change_op text;
        BEGIN
            IF TG_OP = 'DELETE' THEN
                row_data := to_jsonb(OLD); change_op := 'delete';
            ELSE
                row_data := to_jsonb(NEW);
                change_op := CASE WHEN row_data->>'deleted_at' IS NOT NULL
                                  THEN 'delete' ELSE 'upsert' END;
            END IF;
            INSERT INTO changes (tenant_id, entity, entity_id, op)
            VALUES (row_data->>'tenant_id', TG_ARGV[0], (row_data->>'id')::uuid, change_op);
            RETURN NULL;
        END $$
        """
    )
    for table, entity in TRACKED.items():
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_changes_{event} ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_changes AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION record_change('{entity}')"
        )
    op.execute("DROP FUNCTION record_changes()")
