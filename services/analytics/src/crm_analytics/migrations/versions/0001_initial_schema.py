"""Initial schema: the read models (people, companies, aliases, timeline, orders, invoices,
contracts, opportunities, tickets, CSAT, surveys, consents), the computed customer scores,
the recompute schedule, the chassis tables and row-level security on every tenant table.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:31:23.721634
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_shared.migrations import (
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
    "campaign_touches",
    "campaigns",
    "companies",
    "consents",
    "contact_aliases",
    "contact_companies",
    "contacts",
    "contract_ends",
    "contracts",
    "csat_scores",
    "customer_scores",
    "invoices",
    "opportunities",
    "orders",
    "survey_answers",
    "tickets",
    "timeline_entries",
]


def upgrade() -> None:
    create_chassis_tables()
    op.create_table(
        "companies",
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("company_id", "tenant_id", name=op.f("pk_companies")),
    )
    op.create_index("ix_companies_parent", "companies", ["tenant_id", "parent_id"], unique=False)
    op.create_table(
        "consents",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "contact_id", "channel", "purpose", "tenant_id", name=op.f("pk_consents")
        ),
    )
    op.create_table(
        "contact_aliases",
        sa.Column("alias_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("alias_id", "tenant_id", name=op.f("pk_contact_aliases")),
    )
    op.create_table(
        "contact_companies",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "contact_id", "company_id", "tenant_id", name=op.f("pk_contact_companies")
        ),
    )
    op.create_index(
        "ix_contact_companies_company",
        "contact_companies",
        ["tenant_id", "company_id"],
        unique=False,
    )
    op.create_table(
        "contacts",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("primary_email", sa.String(length=320), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=32), nullable=True),
        sa.Column("owner_id", sa.String(length=100), nullable=True),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into", sa.String(length=64), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "tenant_id", name=op.f("pk_contacts")),
    )
    op.create_table(
        "contract_ends",
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("renewed", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "contract_id", "end_date", "tenant_id", name=op.f("pk_contract_ends")
        ),
    )
    op.create_index(
        op.f("ix_contract_ends_contact_id"), "contract_ends", ["contact_id"], unique=False
    )
    op.create_table(
        "contracts",
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "tenant_id", name=op.f("pk_contracts")),
    )
    op.create_index(op.f("ix_contracts_contact_id"), "contracts", ["contact_id"], unique=False)
    op.create_table(
        "csat_scores",
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "tenant_id", name=op.f("pk_csat_scores")),
    )
    op.create_index(op.f("ix_csat_scores_contact_id"), "csat_scores", ["contact_id"], unique=False)
    op.create_table(
        "customer_scores",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("recency_days", sa.Float(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("monetary", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("r_score", sa.Integer(), nullable=False),
        sa.Column("f_score", sa.Integer(), nullable=False),
        sa.Column("m_score", sa.Integer(), nullable=False),
        sa.Column("rfm_segment", sa.String(length=32), nullable=False),
        sa.Column("value_tier", sa.String(length=16), nullable=False),
        sa.Column("historic_clv", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("predicted_clv", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "tenant_id", name=op.f("pk_customer_scores")),
    )
    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "tenant_id", name=op.f("pk_invoices")),
    )
    op.create_index(op.f("ix_invoices_contact_id"), "invoices", ["contact_id"], unique=False)
    op.create_table(
        "opportunities",
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("stage_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id", "tenant_id", name=op.f("pk_opportunities")),
    )
    op.create_index(
        "ix_opportunities_contact", "opportunities", ["tenant_id", "contact_id"], unique=False
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("opportunity_id", sa.String(length=64), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skus", postgresql.ARRAY(sa.String(length=100)), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "tenant_id", name=op.f("pk_orders")),
    )
    op.create_index(
        "ix_orders_contact", "orders", ["tenant_id", "contact_id", "placed_at"], unique=False
    )
    op.create_table(
        "survey_answers",
        sa.Column("response_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("survey_id", sa.String(length=64), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nps_score", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("repurchase_intent", sa.String(length=16), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("response_id", "tenant_id", name=op.f("pk_survey_answers")),
    )
    op.create_index(
        op.f("ix_survey_answers_contact_id"), "survey_answers", ["contact_id"], unique=False
    )
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("solved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_seconds", sa.Float(), nullable=True),
        sa.Column("resolution_seconds", sa.Float(), nullable=True),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "tenant_id", name=op.f("pk_tickets")),
    )
    op.create_index("ix_tickets_contact", "tickets", ["tenant_id", "contact_id"], unique=False)
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("lead_id", sa.String(length=64), nullable=True),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("source_service", sa.String(length=32), nullable=False),
        sa.Column("source_entity", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.String(length=100), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", "tenant_id", name=op.f("pk_timeline_entries")),
    )
    op.create_index(
        "ix_timeline_company_time",
        "timeline_entries",
        ["tenant_id", "company_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_timeline_contact_time",
        "timeline_entries",
        ["tenant_id", "contact_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_index("ix_timeline_lead", "timeline_entries", ["tenant_id", "lead_id"], unique=False)
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("budget", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("actual_cost", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "tenant_id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "campaign_touches",
        sa.Column("touch_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("origin_contact_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("touch_id", "tenant_id", name=op.f("pk_campaign_touches")),
    )
    op.create_index(
        "ix_campaign_touches_campaign",
        "campaign_touches",
        ["tenant_id", "campaign_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_campaign_touches_contact",
        "campaign_touches",
        ["tenant_id", "contact_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "score_schedule",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("computed_requests", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_score_schedule")),
    )
    for table in TENANT_TABLES:
        tenant_table(table)
    # tenant ids and counters only: the scheduler reads it across tenants
    grant_to_app("score_schedule", "SELECT, INSERT, UPDATE")


def downgrade() -> None:
    op.drop_table("score_schedule")
    op.drop_index("ix_campaign_touches_contact", table_name="campaign_touches")
    op.drop_index("ix_campaign_touches_campaign", table_name="campaign_touches")
    op.drop_table("campaign_touches")
    op.drop_table("campaigns")
    op.drop_index("ix_timeline_lead", table_name="timeline_entries")
    op.drop_index("ix_timeline_contact_time", table_name="timeline_entries")
    op.drop_index("ix_timeline_company_time", table_name="timeline_entries")
    op.drop_table("timeline_entries")
    op.drop_index("ix_tickets_contact", table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(op.f("ix_survey_answers_contact_id"), table_name="survey_answers")
    op.drop_table("survey_answers")
    op.drop_index("ix_orders_contact", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_opportunities_contact", table_name="opportunities")
    op.drop_table("opportunities")
    op.drop_index(op.f("ix_invoices_contact_id"), table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("customer_scores")
    op.drop_index(op.f("ix_csat_scores_contact_id"), table_name="csat_scores")
    op.drop_table("csat_scores")
    op.drop_index(op.f("ix_contracts_contact_id"), table_name="contracts")
    op.drop_table("contracts")
    op.drop_index(op.f("ix_contract_ends_contact_id"), table_name="contract_ends")
    op.drop_table("contract_ends")
    op.drop_table("contacts")
    op.drop_index("ix_contact_companies_company", table_name="contact_companies")
    op.drop_table("contact_companies")
    op.drop_table("contact_aliases")
    op.drop_table("consents")
    op.drop_index("ix_companies_parent", table_name="companies")
    op.drop_table("companies")
    drop_chassis_tables()
