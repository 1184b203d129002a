"""Campaigns, their members (the built audience), the tenant's contact policy, the sender's
job list and revenue attributed to campaigns."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_campaigns.database import Base, TenantRow, Versioned, utcnow


class Campaign(Base, Versioned):
    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_tenant_dates", "tenant_id", "planned_start"),)

    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    goal: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(String(100))
    planned_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    planned_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    actual_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    segment_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    exclude_segment_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    honour_preferred_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    audience_report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    audience_built_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignMember(Base):
    """One person in a campaign's audience, with the sender's bookkeeping and the touches
    providers reported (first time of each)."""

    __tablename__ = "campaign_members"
    __table_args__ = (
        Index("ix_campaign_members_contact", "tenant_id", "contact_id", "planned_at"),
        Index("ix_campaign_members_send", "campaign_id", "send_status"),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    planned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # pending -> sending -> sent | failed | suppressed
    send_status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    clicked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bounced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ContactPolicy(Base):
    """Per-tenant frequency cap: at most `max_touches` per person per `period_days`."""

    __tablename__ = "contact_policies"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    max_touches: Mapped[int] = mapped_column(Integer)
    period_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SendJob(Base):
    """Running campaigns the sender works off. Not tenant-scoped (like the outbox): the sender
    finds work across tenants here, then touches members only inside that tenant."""

    __tablename__ = "send_jobs"

    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AttributedWin(Base, TenantRow):
    """An opportunity won with a campaign as its source (from opportunities' events)."""

    __tablename__ = "attributed_wins"
    __table_args__ = (
        Index("ix_attributed_wins_campaign", "tenant_id", "campaign_id"),
        UniqueConstraint("tenant_id", "opportunity_id"),
    )

    opportunity_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    contact_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    won_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
