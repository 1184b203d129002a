"""The read models analytics keeps from other services' events.

Every row is keyed by the tenant and the producer's own id, so a replay (or the same event under
another consumer group) overwrites instead of duplicating. `contact_id` is always the surviving
person: merges and lead conversions are resolved through `contact_aliases`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_analytics.database import Base, TenantKeyed

ID = String(64)
MONEY = Numeric(18, 2)


class Contact(Base, TenantKeyed):
    """A person as contacts last described them (PII here is scrubbed on erasure)."""

    __tablename__ = "contacts"
    # a consumer batch loads each tenant's erased people (few) once
    __table_args__ = (
        Index("ix_contacts_erased", "tenant_id", postgresql_where=text("erased_at IS NOT NULL")),
    )

    contact_id: Mapped[str] = mapped_column(ID, primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    primary_email: Mapped[str | None] = mapped_column(String(320))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(32))
    owner_id: Mapped[str | None] = mapped_column(String(100))
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[str | None] = mapped_column(ID)


class Company(Base, TenantKeyed):
    __tablename__ = "companies"
    __table_args__ = (Index("ix_companies_parent", "tenant_id", "parent_id"),)

    company_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ID)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ContactCompany(Base, TenantKeyed):
    """A person's membership of a company (from snapshots' company_ids and role events)."""

    __tablename__ = "contact_companies"
    __table_args__ = (Index("ix_contact_companies_company", "tenant_id", "company_id"),)

    contact_id: Mapped[str] = mapped_column(ID, primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, primary_key=True)


class ContactAlias(Base, TenantKeyed):
    """Another id that now means this person: a merged duplicate or a converted lead."""

    __tablename__ = "contact_aliases"
    # a consumer batch loads each tenant's aliases once; merges look them up by survivor
    __table_args__ = (Index("ix_contact_aliases_survivor", "tenant_id", "contact_id"),)

    alias_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID)
    kind: Mapped[str] = mapped_column(String(16))  # merged | lead


class TimelineEntry(Base, TenantKeyed):
    __tablename__ = "timeline_entries"
    __table_args__ = (
        Index("ix_timeline_contact_time", "tenant_id", "contact_id", "occurred_at", "id"),
        # most entries name no company and no lead: those indexes hold only the ones that do
        Index(
            "ix_timeline_company_time",
            "tenant_id",
            "company_id",
            "occurred_at",
            "id",
            postgresql_where=text("company_id IS NOT NULL"),
        ),
        Index(
            "ix_timeline_lead", "tenant_id", "lead_id", postgresql_where=text("lead_id IS NOT NULL")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_id: Mapped[str | None] = mapped_column(ID)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    lead_id: Mapped[str | None] = mapped_column(ID)
    company_id: Mapped[str | None] = mapped_column(ID)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    direction: Mapped[str | None] = mapped_column(String(16))
    source_service: Mapped[str] = mapped_column(String(32))
    source_entity: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(ID)
    summary: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(ID)


class Order(Base, TenantKeyed):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_contact", "tenant_id", "contact_id", "placed_at"),)

    order_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    company_id: Mapped[str | None] = mapped_column(ID)
    opportunity_id: Mapped[str | None] = mapped_column(ID)
    placed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    total: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    skus: Mapped[list[str] | None] = mapped_column(ARRAY(String(100)))


class Invoice(Base, TenantKeyed):
    __tablename__ = "invoices"

    invoice_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID, index=True)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    order_id: Mapped[str | None] = mapped_column(ID)
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))


class Contract(Base, TenantKeyed):
    __tablename__ = "contracts"

    contract_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID, index=True)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # active | ended


class ContractEnd(Base, TenantKeyed):
    """A contract term that came to its end: renewed (contract.renewed) or not (contract.ended
    with renewed=false). The dynamic churn rate counts these."""

    __tablename__ = "contract_ends"

    contract_id: Mapped[str] = mapped_column(ID, primary_key=True)
    end_date: Mapped[date] = mapped_column(Date, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID, index=True)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    renewed: Mapped[bool] = mapped_column(Boolean)


class Opportunity(Base, TenantKeyed):
    __tablename__ = "opportunities"
    __table_args__ = (Index("ix_opportunities_contact", "tenant_id", "contact_id"),)

    opportunity_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    company_id: Mapped[str | None] = mapped_column(ID)
    name: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    stage_id: Mapped[str | None] = mapped_column(ID)
    status: Mapped[str] = mapped_column(String(8))  # open | won | lost
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Ticket(Base, TenantKeyed):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_contact", "tenant_id", "contact_id"),)

    ticket_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    status: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    solved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_seconds: Mapped[float | None] = mapped_column(Float)
    resolution_seconds: Mapped[float | None] = mapped_column(Float)
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False)


class Csat(Base, TenantKeyed):
    __tablename__ = "csat_scores"

    ticket_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID, index=True)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    score: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SurveyAnswer(Base, TenantKeyed):
    __tablename__ = "survey_answers"

    response_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID, index=True)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    survey_id: Mapped[str] = mapped_column(ID)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    nps_score: Mapped[int | None] = mapped_column(Integer)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    repurchase_intent: Mapped[str | None] = mapped_column(String(16))


class Consent(Base, TenantKeyed):
    """The latest grant or withdrawal per person, channel and purpose."""

    __tablename__ = "consents"

    contact_id: Mapped[str] = mapped_column(ID, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    captured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerScore(Base, TenantKeyed):
    """The last computed scores per person; `customer.segment_changed` fires on a change."""

    __tablename__ = "customer_scores"

    contact_id: Mapped[str] = mapped_column(ID, primary_key=True)
    recency_days: Mapped[float] = mapped_column(Float)
    frequency: Mapped[int] = mapped_column(Integer)
    monetary: Mapped[Decimal] = mapped_column(MONEY)
    r_score: Mapped[int] = mapped_column(Integer)
    f_score: Mapped[int] = mapped_column(Integer)
    m_score: Mapped[int] = mapped_column(Integer)
    rfm_segment: Mapped[str] = mapped_column(String(32))
    value_tier: Mapped[str] = mapped_column(String(16))
    historic_clv: Mapped[Decimal] = mapped_column(MONEY)
    predicted_clv: Mapped[float | None] = mapped_column(Float)
    p_alive: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerOrderStats(Base, TenantKeyed):
    """Per person, their non-cancelled orders with a time and a total: how many, the revenue,
    the first and the last order's time and the first order's total (by placed_at, order_id).
    Kept by statement triggers on `orders` (migration 0007), whatever writes the orders; RFM,
    CLV and the score recompute read it instead of every order when it covers their as_of."""

    __tablename__ = "customer_order_stats"

    contact_id: Mapped[str] = mapped_column(ID, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[Decimal] = mapped_column(MONEY)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_total: Mapped[Decimal] = mapped_column(MONEY)


class OrderSequence(Base, TenantKeyed):
    """Each non-cancelled placed order's position in its person's history (by placed_at,
    order_id) and how many of its products the person buys there for the first time: repeat
    sales are the orders past the first, cross-sales those of them bringing a new product.
    Kept by the same triggers as `CustomerOrderStats`."""

    __tablename__ = "order_sequence"
    __table_args__ = (
        Index(
            "ix_order_sequence_placed",
            "tenant_id",
            "placed_at",
            postgresql_include=["nth", "new_products"],
        ),
    )

    contact_id: Mapped[str] = mapped_column(ID, primary_key=True)
    order_id: Mapped[str] = mapped_column(ID, primary_key=True)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    nth: Mapped[int] = mapped_column(Integer)
    new_products: Mapped[int] = mapped_column(Integer)


class ScoreSchedule(Base):
    """Per tenant: how many recomputes were requested (orders arriving) and how many the last
    recompute covered. Holds no business data, only tenant ids and counters, so the scheduler
    reads it across tenants (no row-level security, like the outbox)."""

    __tablename__ = "score_schedule"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    computed_requests: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Campaign(Base, TenantKeyed):
    __tablename__ = "campaigns"

    campaign_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(16))
    budget: Mapped[Decimal | None] = mapped_column(MONEY)
    actual_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # scheduled | running | completed


class CampaignTouch(Base, TenantKeyed):
    __tablename__ = "campaign_touches"
    __table_args__ = (
        Index("ix_campaign_touches_campaign", "tenant_id", "campaign_id", "occurred_at"),
        Index("ix_campaign_touches_contact", "tenant_id", "contact_id", "occurred_at"),
    )

    touch_id: Mapped[str] = mapped_column(ID, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ID)
    contact_id: Mapped[str] = mapped_column(ID)
    origin_contact_id: Mapped[str | None] = mapped_column(ID)  # as the producer named it
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
