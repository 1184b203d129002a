"""Initial schema: tickets, messages, CSAT, queues, SLA policies, calendars and timers, the
contacts / value tier / asset read models, plus the chassis tables and row-level security.

`sla_timers` and `sla_emissions` are, like the outbox, not tenant-scoped: the scheduler claims
due timers across tenants (FOR UPDATE SKIP LOCKED). They hold ids and instants, never PII.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:35:00.630983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_shared.migrations import (
    app_role,
    create_chassis_tables,
    drop_chassis_tables,
    grant_to_app,
    tenant_table,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TENANT_TABLES = [
    "assets",
    "business_calendars",
    "customer_tiers",
    "known_contacts",
    "queues",
    "queue_members",
    "sla_policies",
    "tickets",
    "ticket_messages",
    "csat_responses",
]


def upgrade() -> None:
    create_chassis_tables()
    op.execute("CREATE SEQUENCE ticket_number_seq START WITH 1000")
    op.execute(f'GRANT USAGE ON SEQUENCE ticket_number_seq TO "{app_role()}"')
    op.create_table(
        "assets",
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("product", sa.String(length=300), nullable=True),
        sa.Column("serial_number", sa.String(length=100), nullable=True),
        sa.Column("purchase_date", sa.Date(), nullable=False),
        sa.Column("warranty_months", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint(
            "tenant_id", "order_id", "line_no", name=op.f("uq_assets_tenant_id_order_id_line_no")
        ),
    )
    op.create_index("ix_assets_tenant_contact", "assets", ["tenant_id", "contact_id"], unique=False)
    op.create_index(op.f("ix_assets_tenant_id"), "assets", ["tenant_id"], unique=False)
    op.create_table(
        "business_calendars",
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("weekly_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("holidays", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_business_calendars_tenant_id")),
    )
    op.create_index(
        op.f("ix_business_calendars_tenant_id"), "business_calendars", ["tenant_id"], unique=False
    )
    op.create_table(
        "customer_tiers",
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("value_tier", sa.String(length=16), nullable=True),
        sa.Column("rfm_segment", sa.String(length=50), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_tiers")),
        sa.UniqueConstraint(
            "tenant_id", "contact_id", name=op.f("uq_customer_tiers_tenant_id_contact_id")
        ),
    )
    op.create_index(
        op.f("ix_customer_tiers_tenant_id"), "customer_tiers", ["tenant_id"], unique=False
    )
    op.create_table(
        "known_contacts",
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("emails", postgresql.ARRAY(sa.String(length=320)), nullable=False),
        sa.Column("phones", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_known_contacts")),
        sa.UniqueConstraint(
            "tenant_id", "contact_id", name=op.f("uq_known_contacts_tenant_id_contact_id")
        ),
    )
    op.create_index(
        "ix_known_contacts_emails",
        "known_contacts",
        ["emails"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_known_contacts_phones",
        "known_contacts",
        ["phones"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_known_contacts_tenant_id"), "known_contacts", ["tenant_id"], unique=False
    )
    op.create_table(
        "queues",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("last_assigned", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_queues_tenant_id_name")),
    )
    op.create_index(op.f("ix_queues_tenant_id"), "queues", ["tenant_id"], unique=False)
    op.create_table(
        "sla_emissions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("timer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("emitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduler", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_emissions")),
        sa.UniqueConstraint("timer_id", "kind", name=op.f("uq_sla_emissions_timer_id_kind")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("value_tier", sa.String(length=16), nullable=True),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("warning_share", sa.Float(), nullable=False),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("escalate_priority", sa.Boolean(), nullable=False),
        sa.Column("escalate_queue_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
    )
    op.create_index(op.f("ix_sla_policies_tenant_id"), "sla_policies", ["tenant_id"], unique=False)
    op.create_table(
        "sla_timers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("budget_s", sa.Integer(), nullable=False),
        sa.Column("consumed_s", sa.Float(), nullable=False),
        sa.Column("warning_share", sa.Float(), nullable=False),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("running_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_timers")),
        sa.UniqueConstraint(
            "ticket_id", "target", "cycle", name=op.f("uq_sla_timers_ticket_id_target_cycle")
        ),
    )
    op.create_index(
        "ix_sla_timers_due",
        "sla_timers",
        ["due_at"],
        unique=False,
        postgresql_where="breached_at IS NULL AND stopped_at IS NULL",
    )
    op.create_index(
        "ix_sla_timers_tenant_ticket", "sla_timers", ["tenant_id", "ticket_id"], unique=False
    )
    op.create_index(
        "ix_sla_timers_warn_due",
        "sla_timers",
        ["warn_at"],
        unique=False,
        postgresql_where="warned_at IS NULL AND stopped_at IS NULL",
    )
    op.create_table(
        "queue_members",
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.id"],
            name=op.f("fk_queue_members_queue_id_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_members")),
        sa.UniqueConstraint(
            "tenant_id",
            "queue_id",
            "agent_id",
            name=op.f("uq_queue_members_tenant_id_queue_id_agent_id"),
        ),
    )
    op.create_index(
        op.f("ix_queue_members_tenant_id"), "queue_members", ["tenant_id"], unique=False
    )
    op.create_table(
        "tickets",
        sa.Column(
            "number",
            sa.BigInteger(),
            server_default=sa.text("nextval('ticket_number_seq')"),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.String(length=100), nullable=True),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.String(length=100), nullable=True),
        sa.Column("problem_id", sa.Uuid(), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("sla_policy_id", sa.Uuid(), nullable=True),
        sa.Column("value_tier", sa.String(length=16), nullable=True),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("awaiting_reply_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("solved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_tickets_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["tickets.id"],
            name=op.f("fk_tickets_merged_into_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["problem_id"],
            ["tickets.id"],
            name=op.f("fk_tickets_problem_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.id"],
            name=op.f("fk_tickets_queue_id_queues"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sla_policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_tickets_sla_policy_id_sla_policies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_tickets_tenant_id_number")),
    )
    op.create_index(op.f("ix_tickets_problem_id"), "tickets", ["problem_id"], unique=False)
    op.create_index(
        "ix_tickets_tenant_assignee_status",
        "tickets",
        ["tenant_id", "assignee_id", "status"],
        unique=False,
    )
    op.create_index(op.f("ix_tickets_tenant_id"), "tickets", ["tenant_id"], unique=False)
    op.create_index(
        "ix_tickets_tenant_queue_status",
        "tickets",
        ["tenant_id", "queue_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_tickets_tenant_requester", "tickets", ["tenant_id", "requester_id"], unique=False
    )
    op.create_table(
        "csat_responses",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_csat_responses_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_responses")),
        sa.UniqueConstraint(
            "tenant_id", "ticket_id", name=op.f("uq_csat_responses_tenant_id_ticket_id")
        ),
    )
    op.create_index(
        op.f("ix_csat_responses_tenant_id"), "csat_responses", ["tenant_id"], unique=False
    )
    op.create_table(
        "ticket_messages",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.String(length=100), nullable=True),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_messages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
    )
    op.create_index(
        "ix_ticket_messages_external", "ticket_messages", ["tenant_id", "external_id"], unique=False
    )
    op.create_index(
        op.f("ix_ticket_messages_tenant_id"), "ticket_messages", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_ticket_messages_ticket_time",
        "ticket_messages",
        ["tenant_id", "ticket_id", "created_at"],
        unique=False,
    )
    for table in TENANT_TABLES:
        tenant_table(table)
    grant_to_app("sla_timers", "SELECT, INSERT, UPDATE")
    grant_to_app("sla_emissions", "SELECT, INSERT")


def downgrade() -> None:
    op.drop_index("ix_ticket_messages_ticket_time", table_name="ticket_messages")
    op.drop_index(op.f("ix_ticket_messages_tenant_id"), table_name="ticket_messages")
    op.drop_index("ix_ticket_messages_external", table_name="ticket_messages")
    op.drop_table("ticket_messages")
    op.drop_index(op.f("ix_csat_responses_tenant_id"), table_name="csat_responses")
    op.drop_table("csat_responses")
    op.drop_index("ix_tickets_tenant_requester", table_name="tickets")
    op.drop_index("ix_tickets_tenant_queue_status", table_name="tickets")
    op.drop_index(op.f("ix_tickets_tenant_id"), table_name="tickets")
    op.drop_index("ix_tickets_tenant_assignee_status", table_name="tickets")
    op.drop_index(op.f("ix_tickets_problem_id"), table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(op.f("ix_queue_members_tenant_id"), table_name="queue_members")
    op.drop_table("queue_members")
    op.drop_index(
        "ix_sla_timers_warn_due",
        table_name="sla_timers",
        postgresql_where="warned_at IS NULL AND stopped_at IS NULL",
    )
    op.drop_index("ix_sla_timers_tenant_ticket", table_name="sla_timers")
    op.drop_index(
        "ix_sla_timers_due",
        table_name="sla_timers",
        postgresql_where="breached_at IS NULL AND stopped_at IS NULL",
    )
    op.drop_table("sla_timers")
    op.drop_index(op.f("ix_sla_policies_tenant_id"), table_name="sla_policies")
    op.drop_table("sla_policies")
    op.drop_table("sla_emissions")
    op.drop_index(op.f("ix_queues_tenant_id"), table_name="queues")
    op.drop_table("queues")
    op.drop_index(op.f("ix_known_contacts_tenant_id"), table_name="known_contacts")
    op.drop_index("ix_known_contacts_phones", table_name="known_contacts", postgresql_using="gin")
    op.drop_index("ix_known_contacts_emails", table_name="known_contacts", postgresql_using="gin")
    op.drop_table("known_contacts")
    op.drop_index(op.f("ix_customer_tiers_tenant_id"), table_name="customer_tiers")
    op.drop_table("customer_tiers")
    op.drop_index(op.f("ix_business_calendars_tenant_id"), table_name="business_calendars")
    op.drop_table("business_calendars")
    op.drop_index(op.f("ix_assets_tenant_id"), table_name="assets")
    op.drop_index("ix_assets_tenant_contact", table_name="assets")
    op.drop_table("assets")
    op.execute("DROP SEQUENCE IF EXISTS ticket_number_seq")
    drop_chassis_tables()
