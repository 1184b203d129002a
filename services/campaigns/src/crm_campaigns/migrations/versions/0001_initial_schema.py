"""Initial schema: the people/consent projection, segments and lists, campaigns and members,
contact policy, touches, attributed wins, the sender's jobs, plus the chassis tables and
row-level security.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:34:22.949469
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
    "people",
    "consents",
    "segments",
    "list_entries",
    "campaigns",
    "campaign_members",
    "contact_policies",
    "touches",
    "attributed_wins",
    "surveys",
    "survey_responses",
    "call_lists",
    "call_entries",
]


def upgrade() -> None:
    create_chassis_tables()
    op.create_table(
        "attributed_wins",
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attributed_wins")),
        sa.UniqueConstraint(
            "tenant_id", "opportunity_id", name=op.f("uq_attributed_wins_tenant_id_opportunity_id")
        ),
    )
    op.create_index(
        "ix_attributed_wins_campaign", "attributed_wins", ["tenant_id", "campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_attributed_wins_tenant_id"), "attributed_wins", ["tenant_id"], unique=False
    )
    op.create_table(
        "campaigns",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("goal", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.String(length=100), nullable=True),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("budget", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("actual_cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("segment_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("exclude_segment_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("honour_preferred_channel", sa.Boolean(), nullable=False),
        sa.Column("audience_report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("audience_built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(
        "ix_campaigns_tenant_dates", "campaigns", ["tenant_id", "planned_start"], unique=False
    )
    op.create_index(op.f("ix_campaigns_tenant_id"), "campaigns", ["tenant_id"], unique=False)
    op.create_table(
        "consents",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "contact_id", "channel", "purpose", name=op.f("pk_consents")
        ),
    )
    op.create_table(
        "contact_policies",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("max_touches", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_contact_policies")),
    )
    op.create_table(
        "people",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("owner_id", sa.String(length=100), nullable=True),
        sa.Column("relationship_level", sa.String(length=32), nullable=True),
        sa.Column("preferred_channel", sa.String(length=32), nullable=True),
        sa.Column("do_not_contact", sa.Boolean(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("company_ids", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rfm_segment", sa.String(length=64), nullable=True),
        sa.Column("value_tier", sa.String(length=32), nullable=True),
        sa.Column("segment_computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "contact_id", name=op.f("pk_people")),
    )
    op.create_index("ix_people_tags", "people", ["tags"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_people_tenant_stage", "people", ["tenant_id", "lifecycle_stage"], unique=False
    )
    op.create_table(
        "segments",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
    )
    op.create_index(op.f("ix_segments_tenant_id"), "segments", ["tenant_id"], unique=False)
    op.create_table(
        "send_jobs",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_send_jobs")),
    )
    op.create_table(
        "touches",
        sa.Column("provider_event_id", sa.String(length=200), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_touches")),
        sa.UniqueConstraint(
            "tenant_id", "provider_event_id", name=op.f("uq_touches_tenant_id_provider_event_id")
        ),
    )
    op.create_index(
        "ix_touches_campaign", "touches", ["tenant_id", "campaign_id", "kind"], unique=False
    )
    op.create_index(op.f("ix_touches_tenant_id"), "touches", ["tenant_id"], unique=False)
    op.create_table(
        "campaign_members",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("send_status", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_members_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "campaign_id", "contact_id", name=op.f("pk_campaign_members")
        ),
    )
    op.create_index(
        "ix_campaign_members_contact",
        "campaign_members",
        ["tenant_id", "contact_id", "planned_at"],
        unique=False,
    )
    op.create_index(
        "ix_campaign_members_send", "campaign_members", ["campaign_id", "send_status"], unique=False
    )
    op.create_table(
        "list_entries",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_list_entries_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "segment_id", "contact_id", name=op.f("pk_list_entries")
        ),
    )
    op.create_table(
        "surveys",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
    )
    op.create_index(op.f("ix_surveys_tenant_id"), "surveys", ["tenant_id"], unique=False)
    op.create_table(
        "survey_responses",
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("repurchase_intent", sa.String(length=16), nullable=True),
        sa.Column("nps_score", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_survey_responses_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint(
            "tenant_id",
            "survey_id",
            "contact_id",
            name=op.f("uq_survey_responses_tenant_id_survey_id_contact_id"),
        ),
    )
    op.create_index(
        op.f("ix_survey_responses_tenant_id"), "survey_responses", ["tenant_id"], unique=False
    )
    op.create_table(
        "call_lists",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("agent_ids", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_call_lists_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_lists")),
    )
    op.create_index(op.f("ix_call_lists_tenant_id"), "call_lists", ["tenant_id"], unique=False)
    op.create_table(
        "call_entries",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("call_list_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value_tier", sa.String(length=32), nullable=True),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_list_id"],
            ["call_lists.id"],
            name=op.f("fk_call_entries_call_list_id_call_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "call_list_id", "contact_id", name=op.f("pk_call_entries")
        ),
    )
    op.create_index(
        "ix_call_entries_agent",
        "call_entries",
        ["tenant_id", "call_list_id", "agent_id"],
        unique=False,
    )
    for table in TENANT_TABLES:
        tenant_table(table)
    # The sender finds work across tenants here (like the relay and the outbox).
    grant_to_app("send_jobs")


def downgrade() -> None:
    op.drop_table("call_entries")
    op.drop_table("call_lists")
    op.drop_table("survey_responses")
    op.drop_table("surveys")
    op.drop_table("list_entries")
    op.drop_index("ix_campaign_members_send", table_name="campaign_members")
    op.drop_index("ix_campaign_members_contact", table_name="campaign_members")
    op.drop_table("campaign_members")
    op.drop_index(op.f("ix_touches_tenant_id"), table_name="touches")
    op.drop_index("ix_touches_campaign", table_name="touches")
    op.drop_table("touches")
    op.drop_table("send_jobs")
    op.drop_index(op.f("ix_segments_tenant_id"), table_name="segments")
    op.drop_table("segments")
    op.drop_index("ix_people_tenant_stage", table_name="people")
    op.drop_index("ix_people_tags", table_name="people", postgresql_using="gin")
    op.drop_table("people")
    op.drop_table("contact_policies")
    op.drop_table("consents")
    op.drop_index(op.f("ix_campaigns_tenant_id"), table_name="campaigns")
    op.drop_index("ix_campaigns_tenant_dates", table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_index(op.f("ix_attributed_wins_tenant_id"), table_name="attributed_wins")
    op.drop_index("ix_attributed_wins_campaign", table_name="attributed_wins")
    op.drop_table("attributed_wins")
    drop_chassis_tables()
