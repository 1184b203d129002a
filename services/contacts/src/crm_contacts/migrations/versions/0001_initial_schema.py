"""Initial schema: people, companies, roles, consent ledger, interactions, erasures,
plus the chassis tables (outbox, inbox, idempotency keys) and row-level security.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:13:22.750039
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_shared.migrations import create_chassis_tables, drop_chassis_tables, tenant_table

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TENANT_TABLES = [
    "companies",
    "people",
    "person_emails",
    "person_phones",
    "person_company_roles",
    "interactions",
]
APPEND_ONLY = ["consent_ledger", "erasures"]  # the law wants these kept as written


def upgrade() -> None:
    create_chassis_tables()
    op.create_table(
        "companies",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("employee_count", sa.Integer(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.String(length=100), nullable=True),
        sa.Column("relationship_level", sa.String(length=32), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["companies.id"],
            name=op.f("fk_companies_parent_id_companies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    op.create_index(op.f("ix_companies_tenant_id"), "companies", ["tenant_id"], unique=False)
    op.create_index(
        "ix_companies_tenant_parent", "companies", ["tenant_id", "parent_id"], unique=False
    )
    op.create_table(
        "erasures",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_person_id"), "erasures", ["person_id"], unique=False)
    op.create_index(op.f("ix_erasures_tenant_id"), "erasures", ["tenant_id"], unique=False)
    op.create_table(
        "people",
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("addresses", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("owner_id", sa.String(length=100), nullable=True),
        sa.Column("relationship_level", sa.String(length=32), nullable=True),
        sa.Column("preferred_channel", sa.String(length=32), nullable=True),
        sa.Column("contact_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("do_not_contact", sa.Boolean(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_people_tenant_id_external_id")
        ),
    )
    op.create_index(
        "ix_people_name_trgm",
        "people",
        [
            sa.literal_column(
                "(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) gin_trgm_ops"
            )
        ],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index("ix_people_tags", "people", ["tags"], unique=False, postgresql_using="gin")
    op.create_index(op.f("ix_people_tenant_id"), "people", ["tenant_id"], unique=False)
    op.create_index("ix_people_tenant_owner", "people", ["tenant_id", "owner_id"], unique=False)
    op.create_table(
        "consent_ledger",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=True),
        sa.Column("source_event_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_consent_ledger_person_id_people"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_ledger")),
        sa.UniqueConstraint(
            "tenant_id", "source_event_id", name=op.f("uq_consent_ledger_tenant_id_source_event_id")
        ),
    )
    op.create_index(
        "ix_consent_ledger_person",
        "consent_ledger",
        ["tenant_id", "person_id", "channel", "purpose", "captured_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_consent_ledger_tenant_id"), "consent_ledger", ["tenant_id"], unique=False
    )
    op.create_table(
        "interactions",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_interactions_company_id_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_interactions_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    op.create_index(
        "ix_interactions_person_time",
        "interactions",
        ["tenant_id", "person_id", "occurred_at"],
        unique=False,
    )
    op.create_index(op.f("ix_interactions_tenant_id"), "interactions", ["tenant_id"], unique=False)
    op.create_table(
        "person_company_roles",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_person_company_roles_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_company_roles_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_company_roles")),
    )
    op.create_index(
        "ix_person_company_roles_company",
        "person_company_roles",
        ["tenant_id", "company_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_person_company_roles_person_id"),
        "person_company_roles",
        ["person_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_person_company_roles_tenant_id"),
        "person_company_roles",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "person_emails",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_emails_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_emails")),
        sa.UniqueConstraint("tenant_id", "email", name=op.f("uq_person_emails_tenant_id_email")),
    )
    op.create_index(
        op.f("ix_person_emails_person_id"), "person_emails", ["person_id"], unique=False
    )
    op.create_index(
        op.f("ix_person_emails_tenant_id"), "person_emails", ["tenant_id"], unique=False
    )
    op.create_table(
        "person_phones",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_phones_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_phones")),
    )
    op.create_index(
        op.f("ix_person_phones_person_id"), "person_phones", ["person_id"], unique=False
    )
    op.create_index(
        op.f("ix_person_phones_tenant_id"), "person_phones", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_person_phones_tenant_number", "person_phones", ["tenant_id", "number"], unique=False
    )
    for table in TENANT_TABLES:
        tenant_table(table)
    for table in APPEND_ONLY:
        tenant_table(table, "SELECT, INSERT")


def downgrade() -> None:
    op.drop_index("ix_person_phones_tenant_number", table_name="person_phones")
    op.drop_index(op.f("ix_person_phones_tenant_id"), table_name="person_phones")
    op.drop_index(op.f("ix_person_phones_person_id"), table_name="person_phones")
    op.drop_table("person_phones")
    op.drop_index(op.f("ix_person_emails_tenant_id"), table_name="person_emails")
    op.drop_index(op.f("ix_person_emails_person_id"), table_name="person_emails")
    op.drop_table("person_emails")
    op.drop_index(op.f("ix_person_company_roles_tenant_id"), table_name="person_company_roles")
    op.drop_index(op.f("ix_person_company_roles_person_id"), table_name="person_company_roles")
    op.drop_index("ix_person_company_roles_company", table_name="person_company_roles")
    op.drop_table("person_company_roles")
    op.drop_index(op.f("ix_interactions_tenant_id"), table_name="interactions")
    op.drop_index("ix_interactions_person_time", table_name="interactions")
    op.drop_table("interactions")
    op.drop_index(op.f("ix_consent_ledger_tenant_id"), table_name="consent_ledger")
    op.drop_index("ix_consent_ledger_person", table_name="consent_ledger")
    op.drop_table("consent_ledger")
    op.drop_index("ix_people_tenant_owner", table_name="people")
    op.drop_index(op.f("ix_people_tenant_id"), table_name="people")
    op.drop_index("ix_people_tags", table_name="people", postgresql_using="gin")
    op.drop_index("ix_people_name_trgm", table_name="people", postgresql_using="gin")
    op.drop_table("people")
    op.drop_index(op.f("ix_erasures_tenant_id"), table_name="erasures")
    op.drop_index(op.f("ix_erasures_person_id"), table_name="erasures")
    op.drop_table("erasures")
    op.drop_index("ix_companies_tenant_parent", table_name="companies")
    op.drop_index(op.f("ix_companies_tenant_id"), table_name="companies")
    op.drop_table("companies")
    drop_chassis_tables()
