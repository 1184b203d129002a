from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_opportunities.database import Base, TenantRow, Versioned, utcnow
from crm_shared.merge_repoints import MergeRepointColumns


class Lead(Base, Versioned):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_tenant_email", "tenant_id", "email"),
        Index("ix_leads_tenant_owner_status", "tenant_id", "owner_id", "status"),
    )

    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    company_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    industry: Mapped[str | None] = mapped_column(String(100))
    company_size: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[str | None] = mapped_column(String(100))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    form_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lead_forms.id"))
    status: Mapped[str] = mapped_column(String(16), default="new")
    disqualify_reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of_lead_id: Mapped[uuid.UUID | None] = mapped_column()
    duplicate_of_contact_id: Mapped[uuid.UUID | None] = mapped_column()
    owner_id: Mapped[str | None] = mapped_column(String(100))
    team_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    company_id: Mapped[uuid.UUID | None] = mapped_column()
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column()
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def possible_duplicate(self) -> bool:
        return self.duplicate_of_lead_id is not None or self.duplicate_of_contact_id is not None


class LeadAssignment(Base, TenantRow):
    """The audit trail of who got a lead, why and when."""

    __tablename__ = "lead_assignments"

    lead_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[uuid.UUID | None] = mapped_column()
    rule_id: Mapped[uuid.UUID | None] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200))
    assigned_by: Mapped[str | None] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingRule(Base, TenantRow):
    """Ordered per tenant; the first active rule whose conditions all hold routes the lead."""

    __tablename__ = "routing_rules"

    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LeadForm(Base, TenantRow):
    """A public web-to-lead form; `key` is what the embedding page posts to."""

    __tablename__ = "lead_forms"

    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(100), default="web_form")
    campaign_id: Mapped[str | None] = mapped_column(String(100))
    rate_limit_per_hour: Mapped[int] = mapped_column(Integer, default=5)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormHit(Base, TenantRow):
    """An accepted submission, by form and (hashed) source address, for rate limiting."""

    __tablename__ = "form_hits"
    __table_args__ = (Index("ix_form_hits_form_address_at", "form_id", "address_hash", "at"),)

    form_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead_forms.id", ondelete="CASCADE"))
    address_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ContactEmail(Base, TenantRow):
    """Local read model of the contacts service's people emails (from crm.contacts.v1), for
    the duplicate check on intake."""

    __tablename__ = "contact_emails"
    __table_args__ = (Index("ix_contact_emails_tenant_email", "tenant_id", "email"),)

    contact_id: Mapped[uuid.UUID] = mapped_column(index=True)
    email: Mapped[str] = mapped_column(String(320))


class MergeRepoint(Base, TenantRow, MergeRepointColumns):
    """A reference a `contact.merged` moved, so `contact.unmerged` moves it back
    (crm_shared.merge_repoints)."""
